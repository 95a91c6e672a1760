# A minimal stand-in for git's t/test-lib.sh (authsome's own, MIT): just what
# t0303-credential-external.sh and lib-credential.sh use, so that git's credential-helper
# test runs against an installed git, in the current (temporary) directory.

TEST_DIRECTORY=$PWD
HOME=$PWD
XDG_CONFIG_HOME=$PWD/.config
GIT_CONFIG_NOSYSTEM=1
export HOME XDG_CONFIG_HOME GIT_CONFIG_NOSYSTEM
git init -q . || exit 1

test_count=0
test_failure=0

test_expect_success () {
	test "$#" = 3 && shift  # a prerequisite: none of these tests names one we lack
	test_count=$((test_count + 1))
	test_cleanup=:
	if eval "$2"
	then
		echo "ok $test_count - $1"
	else
		echo "not ok $test_count - $1"
		test_failure=$((test_failure + 1))
	fi
	eval "$test_cleanup"
}

test_when_finished () {
	test_cleanup="$* && $test_cleanup"
}

test_config () {
	test_when_finished "git config --unset '$1'" &&
	git config "$@"
}

test_cmp () {
	diff -u "$@"
}

test_must_be_empty () {
	if test -s "$1"
	then
		echo "'$1' is not empty:"
		cat "$1"
		return 1
	fi
}

write_script () {
	{ echo "#!/bin/sh"; cat; } >"$1" && chmod +x "$1"
}

say () {
	echo "$*"
}

test_done () {
	echo "1..$test_count"
	test "$test_failure" = 0
	exit $?
}
