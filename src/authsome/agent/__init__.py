"""A warm per-user agent (like git-credential-cache--daemon) for the helpers' hot path.

`client` is imported first by each helper entry point and hands the run to the agent
over `$AUTHSOME_HOME/agent/agent.sock`; `server` runs the same entry point with warm
imports. Any failure runs the entry point in-process: the agent changes speed only.
"""
