# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TAP for the shell tiers, sourced by tests/ns/lib.sh and tests/vm/lib.sh. Each check
# prints one line, "ok N - DESCRIPTION" or "not ok N - DESCRIPTION"; comments are "# TEXT";
# finish prints the plan "1..N" last. tests/run counts the "ok" and "not ok" lines.

T_N=0      # checks so far
T_FAILED=0 # of which failed

ok() { # STATUS DESCRIPTION: STATUS 0 is a pass
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

check() { # DESCRIPTION COMMAND...: passes when COMMAND succeeds (its output is dropped)
	local desc=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$desc"
}

note() { echo "# $*"; }

die() { # DESCRIPTION: a harness failure: one "not ok" line, the plan, and exit 1
	ok 1 "$*"
	finish
	exit 1
}

finish() { # the plan; fails when a check failed
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}

# The checks that a file is byte-identical afterwards compare these.
sum() { sha256sum <"$1"; } # FILE
