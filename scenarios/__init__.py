"""The packaged scenarios: this folder installs as ``aimarket.scenarios`` (TOML files only; see
:mod:`aimarket.resources` and the README section "Where the packaged files live")."""
