"""jsonlite is json (same values, same text, same errors), and the helper's hot path
without the agent imports neither json, re, enum nor base64 (~5 ms of a ~25 ms run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authsome.protocol import jsonlite

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities too: json writes and reads them
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def outcome(fn, arg):
    try:
        return ("ok", repr(fn(arg)))
    except Exception as exc:  # the type and message are part of the contract
        return ("error", type(exc).__name__, str(exc))


@given(values)
def test_dumps_writes_what_json_writes(value):
    for separators in ((", ", ": "), (",", ":")):
        assert jsonlite.dumps(value, separators=separators) == json.dumps(
            value, separators=separators
        )


@given(values, st.sampled_from(["", " ", "\n\t ", "\r"]))
def test_loads_reads_what_json_reads(value, pad):
    text = pad + json.dumps(value) + pad
    assert outcome(jsonlite.loads, text) == outcome(json.loads, text)
    assert outcome(jsonlite.loads, text.encode()) == outcome(json.loads, text.encode())


@given(st.text(max_size=30) | st.binary(max_size=30))
def test_any_input_gives_jsons_answer_or_error(text):
    assert outcome(jsonlite.loads, text) == outcome(json.loads, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[1,]",
        "1 2",
        '{"a" 1}',
        "\ufeff{}",
        b"\xef\xbb\xbf{}",
        '{"a": 1}'.encode("utf-16"),
        '"\\ud800"',
        "[" * 100_000,
        b"\xff",
        "NaN",
        '{"a": 1, "a": 2}',
    ],
)
def test_edge_inputs_match_json(text):
    assert outcome(jsonlite.loads, text) == outcome(json.loads, text)


FRESH = """
import sys
from authsome.protocol import jsonlite
for text in sys.argv[1:]:
    try:
        jsonlite.loads(text)
    except Exception as exc:
        print(type(exc).__name__, exc)
"""


def test_bad_json_in_a_fresh_process_is_jsons_error():
    """The C scanner raises its error only once json is imported: not yet, here."""
    bad = ["{not json", "[1,]", "1 2", ""]
    res = subprocess.run([sys.executable, "-c", FRESH, *bad], capture_output=True, text=True)
    expected = [" ".join(outcome(json.loads, text)[1:]) for text in bad]
    assert res.stdout.splitlines() == expected, res.stderr


def test_unserialisable_objects_fail_as_in_json():
    cycle: list = []
    cycle.append(cycle)
    for value in ({"a": object()}, {(1, 2): 3}, [b"bytes"], cycle):
        assert outcome(jsonlite.dumps, value) == outcome(json.dumps, value)


HOT_PATH = """
import sys
sys.argv = ["authsome-helper", "get", "bench"]
from authsome.helper.main import main
code = main(["get", "bench"])
sys.stderr.write("MODULES " + " ".join(sys.modules) + "\\n")
sys.exit(code)
"""


def test_helper_get_imports_no_json_re_or_base64(tmp_path):
    import base64
    import os

    from support.providers import BENCH, write_definition

    home = tmp_path / "home"
    write_definition(home, BENCH)
    env = dict(
        os.environ,
        AUTHSOME_HOME=str(home),
        AUTHSOME_AGENT="0",
        AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
    )
    env.pop("AUTHSOME_PASSPHRASE", None)
    stored = subprocess.run(
        [sys.executable, "-m", "authsome.helper.main", "store", "bench"],
        input=b'{"access_token": "tok-bench", "expires_in": 86400}',
        capture_output=True,
        env=env,
    )
    assert stored.returncode == 0, stored.stderr
    res = subprocess.run([sys.executable, "-c", HOT_PATH], capture_output=True, env=env, text=True)
    assert res.returncode == 0 and json.loads(res.stdout)["access_token"] == "tok-bench"
    modules = set(res.stderr.rsplit("MODULES ", 1)[1].split())
    assert "authsome.vault.vault" in modules  # it did read the vault
    heavy = {"json", "re", "enum", "base64", "typing"}
    assert modules & heavy == set()
