# A thin wrapper over Meson, so that the usual `make`, `make check`, `make install` work.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD := build
ASAN := build-asan
FUZZ := build-fuzz
MESON_SETUP = meson setup --prefix=$(PREFIX)

.PHONY: all check unit ns vm demo fuzz bench install clean deps format deb

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@scripts/deps build
	$(MESON_SETUP) $(BUILD)

$(ASAN)/build.ninja:
	@scripts/deps build
	$(MESON_SETUP) -Db_sanitize=address,undefined -Db_lundef=false $(ASAN)

$(FUZZ)/build.ninja:
	@scripts/deps fuzz
	CC=clang $(MESON_SETUP) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false $(FUZZ)

deps:
	scripts/deps all

# Every tier: C unit tests (ASan/UBSan build), a bounded fuzz run, root tests in a private
# mount namespace, QEMU boots. The last line is "N passed, N failed".
check: $(BUILD)/build.ninja $(ASAN)/build.ninja $(FUZZ)/build.ninja
	@scripts/deps all
	ninja -C $(BUILD)
	ninja -C $(ASAN)
	ninja -C $(FUZZ)
	tests/run all

unit: $(ASAN)/build.ninja
	ninja -C $(ASAN)
	tests/run unit

ns: all
	tests/run ns

vm: all
	@scripts/deps all
	tests/run vm

demo: all
	@scripts/deps demo
	tests/vm/demo

# Measurements, not tests (docs/benchmarks.md): I/O ratios to a raw partition in one QEMU
# run, then initramfs size and time to init against initramfs-tools and dracut, then
# loopboot install against mmdebstrap alone, then boot storms from one NBD and one NFS server,
# then the initramfs phase step by step (loopboot.times) beside initramfs-tools' and dracut's.
bench: all
	@scripts/deps all
	bench/run
	bench/boot
	bench/install
	bench/net-storm
	bench/phase

fuzz: $(FUZZ)/build.ninja
	ninja -C $(FUZZ)
	fuzz/run $(FUZZ) $${FUZZ_SECONDS:-60}

# loopboot_VERSION_ARCH.deb with dpkg-buildpackage, in build/deb (a copy of the tree).
deb: $(BUILD)/build.ninja
	@scripts/deps deb
	scripts/make-deb $(BUILD)/deb

install: $(BUILD)/build.ninja
	meson configure $(BUILD) --prefix=$(PREFIX)
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild --skip-subprojects

format:
	clang-format -i $$(git ls-files "*.c" "*.h")

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
