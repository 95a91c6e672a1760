"""The adapters: other tools' credential protocols (git, docker, kubectl, Bazel) over
the one answer path. Each module parses its dialect, calls `fastpath.answer` and
prints; its console script (git, docker) or `authsome-helper k8s|headers` starts it.
"""
