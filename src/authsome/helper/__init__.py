"""`authsome-helper` and the adapters for git, docker, kubectl and Bazel.

Their console scripts start in `authsome.entrypoints`, which offers each run to the warm
agent first; importing this package does nothing.
"""
