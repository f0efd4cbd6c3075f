"""The aspect taxonomy: which topics reviews are tagged with and the seed words that name them,
read from a YAML file the shop edits (`taxonomy.yaml` beside this module by default).

Mistakes in the file are refused with the file and the key named: a YAML mapping with a key twice
would otherwise keep the last one silently, an empty seed list would make an aspect that is never
found, and one seed under two aspects would make the lexicon's answer depend on the order.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

DEFAULT_TAXONOMY = "taxonomy.yaml"


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used as it is."""


@dataclass(frozen=True)
class Aspect:
    key: str  # the stable name tables and insights use
    label: str  # the Chinese name readers see
    description: str
    seeds: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    version: int
    aspects: tuple[Aspect, ...]
    source: str  # the file it was read from

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(aspect.key for aspect in self.aspects)

    def label(self, key: str) -> str:
        return next(aspect.label for aspect in self.aspects if aspect.key == key)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last)."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise TaxonomyError(
                f"{loader.name}: key {key!r} appears twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})"
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def parse_taxonomy(text: str, source: str) -> Taxonomy:
    """A taxonomy from YAML text; `source` names the file in every error."""
    try:
        loader = _UniqueKeyLoader(text)
        loader.name = source
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise TaxonomyError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("aspects"), dict) or not document["aspects"]:
        raise TaxonomyError(f"{source}: needs a mapping `aspects:` with at least one aspect")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise TaxonomyError(f"{source}: `version` must be a positive whole number, got {version!r}")
    aspects: list[Aspect] = []
    owner: dict[str, str] = {}
    for key, entry in document["aspects"].items():
        if not isinstance(key, str) or not key.isidentifier() or key != key.lower():
            raise TaxonomyError(f"{source}: aspect key {key!r} must be a lower-case name (letters, digits, _)")
        if not isinstance(entry, dict):
            raise TaxonomyError(f"{source}: aspect {key!r} needs `label` and `seeds`")
        seeds = entry.get("seeds")
        if not isinstance(seeds, list) or not [seed for seed in seeds if str(seed).strip()]:
            raise TaxonomyError(f"{source}: aspect {key!r} has an empty seed list")
        cleaned = tuple(dict.fromkeys(str(seed).strip() for seed in seeds if str(seed).strip()))
        for seed in cleaned:
            if seed in owner:
                raise TaxonomyError(f"{source}: seed {seed!r} is listed under both {owner[seed]!r} and {key!r}")
            owner[seed] = key
        aspects.append(Aspect(key, str(entry.get("label", key)), str(entry.get("description", "")), cleaned))
    return Taxonomy(version, tuple(aspects), source)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy in `path`, or the one shipped with the package."""
    if path is None:
        resource = resources.files("shopinsight_pipeline.aspects") / DEFAULT_TAXONOMY
        return parse_taxonomy(resource.read_text(encoding="utf-8"), str(resource))
    path = Path(path)
    if not path.is_file():
        raise TaxonomyError(f"taxonomy file {path} does not exist")
    return parse_taxonomy(path.read_text(encoding="utf-8"), str(path))
