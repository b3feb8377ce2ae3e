"""croissant.json, beside the card: made by imemnet_c_tools.croissant from the loader's own facts,
valid for mlcroissant, with the published files' checksums, FileSets that hold each source's media
files and only those, and RecordSets whose values, as mlcroissant reads them, are the loader's."""

import functools
import hashlib
import os
import re

import mlcroissant
import pytest
from conftest import REFERENCE, ROOT, SAMPLE

import imemnet_c
from imemnet_c_tools import croissant, sample
from imemnet_c_tools.check import source_of

COMMITTED = os.path.join(ROOT, croissant.CROISSANT)
CONFIGS = {config.name: config for config in imemnet_c.ImemnetC.BUILDER_CONFIGS}
RECORD_SETS = {  # {RecordSet: (its config, its split)}
    croissant.record_set_id(config.name, split, config.splits): (config, split)
    for config in CONFIGS.values()
    for split in config.splits
}
IN_REFERENCE = pytest.mark.skipif(
    not os.path.isdir(REFERENCE), reason=f"the real annotation files are not at {REFERENCE}"
)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def annotation_twin(config):
    """The config without media that gives the same rows: image_annotations for image, ..."""
    return next(c for c in CONFIGS.values() if c.table_kind == config.table_kind and not c.media)


def records(description, record_set, files):
    """The records mlcroissant reads from `files` ({annotation file: path}) by the description, each
    {column: value}, text decoded and numbers as the loader gives them (float32, as a Python float)."""
    dataset = mlcroissant.Dataset(jsonld=description, mapping=files)
    return [
        {key.rpartition("/")[2]: plain(value) for key, value in record.items()}
        for record in dataset.records(record_set)
    ]


def plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return float(value) if value is not None and not isinstance(value, str) else value


def sourced(record_set):
    """The columns of a RecordSet that a Croissant source gives."""
    description = croissant.dataset()
    fields = next(r for r in description["recordSet"] if r["@id"] == record_set)["field"]
    return [field["name"] for field in fields if "source" in field]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """{annotation config: {split: [example]}} as the loader gives them, from the sample."""
    cache = str(tmp_path_factory.mktemp("cache"))
    return {
        name: {split: list(rows) for split, rows in imemnet_c.load(name, SAMPLE, cache_dir=cache).items()}
        for name, config in CONFIGS.items()
        if not config.media
    }


def test_the_committed_croissant_json_is_what_the_generator_makes():
    with open(COMMITTED, encoding="utf-8") as f:
        committed = f.read()
    assert committed == croissant.render(croissant.dataset()), "rerun: python -m imemnet_c_tools.croissant"


def test_mlcroissant_validates_it_and_wants_only_the_publication_date_which_no_source_states():
    issues = mlcroissant.Dataset(jsonld=COMMITTED).metadata.ctx.issues
    assert issues.errors == set()
    assert [warning for warning in issues.warnings if "datePublished" not in warning] == []


@pytest.mark.parametrize("record_set", RECORD_SETS)
def test_each_record_set_read_by_mlcroissant_gives_the_loaders_values(record_set, loaded):
    """From the sample's annotation files: the description is the committed one but for the checksums."""
    config, split = RECORD_SETS[record_set]
    files = {name: os.path.join(SAMPLE, name) for name in imemnet_c.ANNOTATION_URLS}
    description = croissant.dataset()
    for resource in description["distribution"]:
        if "sha256" in resource:
            resource["sha256"] = sha256(files[resource["@id"]])
    columns = sourced(record_set)
    assert {"image_id", "clip_id"} & set(columns) and ("valence" in columns or "matching_score" in columns)
    expected = [
        {column: example[column] for column in columns} for example in loaded[annotation_twin(config).name][split]
    ]
    assert [
        {column: record[column] for column in columns} for record in records(description, record_set, files)
    ] == expected


def test_each_config_column_is_a_field_but_the_joined_ones_which_the_joining_id_names():
    description = croissant.dataset()
    for record_set in description["recordSet"]:
        config, _ = RECORD_SETS[record_set["@id"]]
        fields = {field["name"]: field for field in record_set["field"]}
        joined = [
            column for column, spec in config.columns.items() if spec not in croissant.MODALITIES and "." in spec[1]
        ]
        assert list(fields) == [column for column in config.columns if column not in joined]
        named = " ".join(field.get("description", "") for field in fields.values())
        assert all(re.search(rf"\b{column}\b", named) for column in joined), record_set["@id"]
        for column, field in fields.items():  # no source: a media file, or a value the loader computes
            assert "source" in field or config.columns[column] in croissant.MODALITIES or column == "source", column


def test_only_the_annotation_files_pinned_to_a_commit_have_a_checksum():
    files = {f["@id"]: f for f in croissant.dataset()["distribution"] if f["@type"] == "cr:FileObject"}
    assert {name: file["contentUrl"] for name, file in files.items()} == imemnet_c.ANNOTATION_URLS
    pinned = {name for name, url in imemnet_c.ANNOTATION_URLS.items() if re.search(r"/[0-9a-f]{40}/", url)}
    assert {name for name, file in files.items() if "sha256" in file} == pinned
    assert croissant.dataset()["isLiveDataset"] is True  # the others may change


@IN_REFERENCE
def test_the_checksums_are_those_of_the_published_files():
    files = {f["@id"]: f for f in croissant.dataset()["distribution"] if "sha256" in f}
    present = [name for name in files if os.path.exists(os.path.join(REFERENCE, name))]
    assert present, f"none of {sorted(files)} is in {REFERENCE}"
    for name in present:
        assert files[name]["sha256"] == sha256(os.path.join(REFERENCE, name)), name


@IN_REFERENCE
def test_mlcroissant_reads_the_published_files_as_the_loader_does():
    """The committed croissant.json itself, over the published files (mlcroissant checks their sha256)."""
    present = {
        name: os.path.join(REFERENCE, name)
        for name in ("image_va.csv", "val_matching.txt", "test_matching.txt")
        if os.path.exists(os.path.join(REFERENCE, name))
    }
    if "image_va.csv" in present:
        rows = imemnet_c.read_va_table(present["image_va.csv"], False).rows
        got = records(COMMITTED, "image_annotations", {"image_va.csv": present["image_va.csv"]})
        assert [(r["image_id"], r["valence"], r["arousal"]) for r in got] == [
            (r.id, r.valence, r.arousal) for r in rows
        ]
    for split, name in (("validation", "val_matching.txt"), ("test", "test_matching.txt")):
        if name in present:
            rows = imemnet_c.read_pairs(present[name]).rows
            got = records(COMMITTED, f"paired_annotations_{split}", {name: present[name]})
            assert [(r["clip_id"], r["image_id"], r["matching_score"]) for r in got] == [
                (p.clip_id, p.image_id, p.score) for p in rows
            ]


def matches(path, pattern):
    """Whether a glob pattern matches the whole `path` (relative, `/`-separated)."""
    return glob_regex(pattern).fullmatch(path) is not None


@functools.cache
def glob_regex(pattern):
    """A glob pattern as a regular expression: `**/` is any folders (none included), `/**` anything
    below, `*` and `?` stay within a name, `[...]` is a character class."""
    regex = ""
    for token in re.findall(r"\*\*/|/\*\*$|\*|\?|\[[^]]*\]|[^*?[/]+|/", pattern):
        regex += {"**/": "(?:.*/)?", "/**": "/.*", "*": "[^/]*", "?": "[^/]"}.get(token) or (
            token if token.startswith("[") else re.escape(token)
        )
    return re.compile(regex)


def media_ids():
    """(modality, id) of the sample's media and, where present, of every id the published files name."""
    ids = [(imemnet_c.IMAGES, i) for i in sample.all_image_ids() + [sample.NAPS_UNANNOTATED_ID]]
    ids += [(imemnet_c.AUDIO, c) for c in sample.CLIP_IDS]
    if os.path.isdir(REFERENCE):
        ids += [(imemnet_c.IMAGES, row.id) for row in imemnet_c.read_va_table(f"{REFERENCE}/image_va.csv", False).rows]
        for name in ("val_matching.txt", "test_matching.txt"):
            pairs = imemnet_c.read_pairs(f"{REFERENCE}/{name}").rows
            ids += [(imemnet_c.IMAGES, p.image_id) for p in pairs] + [(imemnet_c.AUDIO, p.clip_id) for p in pairs]
    return sorted(set(ids))


def test_each_media_file_is_in_the_file_set_of_its_source_and_no_other():
    file_sets = [f for f in croissant.dataset()["distribution"] if f["@type"] == "cr:FileSet"]
    assert [f["@id"] for f in file_sets] == [
        "iaps",
        "naps",
        "emotic/mscoco",
        "emotic/framesdb",
        "emotic/ade20k",
        "emotic/emodb_small",
        "clips",
    ]
    for modality, media_id in media_ids():
        for extension in [*modality.extensions, modality.extensions[0].upper()]:
            path = f"unpacked/{media_id}{extension}"
            holding = [f["@id"] for f in file_sets if any(matches(path, pattern) for pattern in f["includes"])]
            assert holding == [source_of(modality, media_id)], path


def test_what_the_loader_never_reads_as_media_is_excluded_from_every_file_set():
    excludes = {tuple(f["excludes"]) for f in croissant.dataset()["distribution"] if f["@type"] == "cr:FileSet"}
    assert excludes == {tuple(croissant.NOT_MEDIA)}
    for path in ("emotic/__MACOSX/images/COCO_train2014_000000900001.jpg", "iaps/._1001.jpg", "iaps/__1001.jpg"):
        assert imemnet_c.media_file_id(path, imemnet_c.IMAGES) is None
        assert any(matches(path, pattern) for pattern in croissant.NOT_MEDIA), path
    assert not any(matches("iaps/1001.jpg", pattern) for pattern in croissant.NOT_MEDIA)
