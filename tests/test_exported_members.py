import suanli


def test_all_is_sorted_and_complete() -> None:
    names = suanli.__all__
    assert names == sorted(names)
    public = {n for n in dir(suanli) if not n.startswith("_") and n not in {"annotations"}}
    modules = {
        "analysis",
        "audit",
        "catalog",
        "cli",
        "decide",
        "economics",
        "errors",
        "perf",
        "scenario",
        "sovereignty",
        "supply",
        "yamlfile",
    }
    assert public - modules - {"PackageNotFoundError", "version"} <= set(names)
    for name in names:
        assert hasattr(suanli, name), name
