"""`cmi` sub-commands, one module per family. Each module exposes `register(commands)`, which adds its
sub-parsers to the `cmi` parser's sub-parser action and sets `handler` on each (a function of the parsed args
returning the process exit code). Heavy imports belong inside handlers so `cmi --help` stays fast."""
