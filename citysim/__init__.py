"""The local stand-in for NYC Open Data: a synthetic city in the portal's real formats (`citysim.synth`) and a
Socrata-compatible replay server that serves it, a snapshot or a day of changes (`citysim.replay`).

Beside the core, not in it: the product never imports it. The CLI (`vsentinel synth`, `vsentinel replay`), the
demo, the tests and the benchmarks do."""
