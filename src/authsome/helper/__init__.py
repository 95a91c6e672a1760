"""The helper entry points. A helper run is first offered to the warm agent: importing
this package (the console scripts' first step) exits with the agent's answer, or
returns having changed nothing. Keep this above every other import."""

from authsome.agent.client import delegate_if_entry

delegate_if_entry()
