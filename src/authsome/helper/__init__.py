"""`authsome-helper`: the exec protocol's entry point (`main`) and its slower actions.

Its console script starts in `authsome.entrypoints`, which offers each run to the warm
agent first; importing this package does nothing. The other tools' dialects are in
`authsome.adapters`.
"""
