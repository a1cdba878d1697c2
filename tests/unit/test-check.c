/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot check`: finding the host in an image's /etc/fstab; sizes for people. */
#include "test-main.h"
#include "tools/check.h"

static const struct check_host_names host = {
    .devnode = "/dev/sda3",
    .uuid = "0123456789ABCDEF",
    .label = "WINDOWS",
    .partuuid = "6a0c4b3e-03",
    .partlabel = "Basic data partition",
    .spec = "UUID=0123456789ABCDEF",
};

static unsigned scan(const char *fstab, struct strv *bad, struct strv *noauto)
{
	return check_fstab_host_lines(fstab, &host, "/host", bad, noauto);
}

TEST(fstab_clean)
{
	struct strv bad = {0}, noauto = {0};
	CHECK(
	    scan(
	        "# /etc/fstab\n"
	        "UUID=1111-2222 /boot/efi vfat umask=0077 0 1\n"
	        "/host/linux/data.img /srv/data ext4 loop,x-systemd.requires-mounts-for=/host 0 2\n"
	        "tmpfs /tmp tmpfs defaults 0 0\n"
	        "\n"
	        "   # indented comment UUID=0123456789ABCDEF /host\n",
	        &bad, &noauto) == 0);
	CHECK(bad.n == 0 && noauto.n == 0);
	CHECK(scan("", &bad, &noauto) == 0);
	strv_free(&bad);
	strv_free(&noauto);
}

TEST(fstab_names_the_host)
{
	struct strv bad = {0}, noauto = {0};
	CHECK(scan("proc /proc proc defaults 0 0\n"
	           "UUID=0123456789abcdef /mnt/win ntfs-3g defaults 0 0\n"
	           "LABEL=WINDOWS /win ntfs3 defaults 0 0\n"
	           "/dev/disk/by-partuuid/6A0C4B3E-03 /w ntfs defaults 0 0\n"
	           "PARTLABEL=Basic\\040data\\040partition /p ntfs defaults 0 0\n"
	           "UUID=\"0123456789ABCDEF\" /q ntfs defaults 0 0\n"
	           "/dev/sda3 /r ntfs defaults 0 0\n"
	           "/dev/sdb1 /host/ ext4 defaults 0 0\n"
	           "LABEL=windows /notit ntfs defaults 0 0\n",
	           &bad, &noauto) == 7);
	CHECK(bad.n == 7);
	if (bad.n == 7) {
		CHECK_STREQ(bad.v[0],
		            "line 2: UUID=0123456789abcdef /mnt/win ntfs-3g defaults 0 0");
		CHECK_STREQ(bad.v[1], "line 3: LABEL=WINDOWS /win ntfs3 defaults 0 0");
		CHECK(strncmp(bad.v[6], "line 8: /dev/sdb1 /host/", 24) == 0);
	}
	strv_free(&bad);
	strv_free(&noauto);
}

TEST(fstab_noauto_is_separate)
{
	struct strv bad = {0}, noauto = {0};
	CHECK(scan("\tUUID=0123456789ABCDEF\t/mnt/win  ntfs3  noauto,ro  0 0\n", &bad, &noauto) ==
	      1);
	CHECK(bad.n == 0);
	CHECK(noauto.n == 1);
	if (noauto.n == 1)
		CHECK_STREQ(noauto.v[0],
		            "line 1: UUID=0123456789ABCDEF\t/mnt/win  ntfs3  noauto,ro  0 0");
	strv_free(&bad);
	strv_free(&noauto);
}

TEST(fstab_other_hostdir)
{
	struct strv bad = {0}, noauto = {0};
	CHECK(check_fstab_host_lines("/dev/sdb1 /host ext4 defaults 0 0\n"
	                             "/dev/sdb2 /mnt/host\\040dir ext4 defaults 0 0\n",
	                             &host, "/mnt/host dir", &bad, &noauto) == 1);
	CHECK(bad.n == 1 && strncmp(bad.v[0], "line 2:", 7) == 0);
	strv_free(&bad);
	strv_free(&noauto);
}

TEST(format_size)
{
	char *s;
	CHECK_STREQ(s = check_format_size(0), "0 bytes");
	free(s);
	CHECK_STREQ(s = check_format_size(4096), "4 KiB");
	free(s);
	CHECK_STREQ(s = check_format_size(8ULL << 30), "8 GiB");
	free(s);
	CHECK_STREQ(s = check_format_size(3ULL << 29), "1.5 GiB");
	free(s);
	CHECK_STREQ(s = check_format_size(300ULL << 20), "300 MiB");
	free(s);
}

TEST(fstab_root_line)
{
	unsigned line = 0;
	CHECK(check_fstab_root("# /etc/fstab\nUUID=ab / ext4 errors=remount-ro 0 1\n", &line) == 1);
	CHECK(line == 2);
	CHECK(check_fstab_root("UUID=ab / ext4 ro,noatime 0 1\n", &line) == -1);
	CHECK(check_fstab_root("UUID=ab / ext4 noatime,ro 0 1\n", &line) == -1);
	CHECK(check_fstab_root("UUID=ab / ext4 rw,errors=ro 0 1\n", &line) == 1);
	CHECK(check_fstab_root("UUID=ab / ext4\n", &line) == 1); /* options default to rw */
	CHECK(check_fstab_root("UUID=ab // ext4 defaults 0 1\n", &line) == 1);
	CHECK(check_fstab_root("# UNCONFIGURED FSTAB FOR BASE SYSTEM\n", &line) == 0);
	CHECK(check_fstab_root("", &line) == 0);
	CHECK(check_fstab_root("UUID=ab /home ext4 defaults 0 2\nproc /proc proc defaults 0 0\n",
	                       &line) == 0);
	/* the last line for / counts, as with mount */
	CHECK(check_fstab_root("/dev/a / ext4 ro 0 1\n/dev/b / ext4 defaults 0 1\n", &line) == 1);
	CHECK(line == 2);
	CHECK(check_fstab_root("  # / ext4\n\t/dev/b\t/\text4\tro\t0 1", &line) == -1);
}
