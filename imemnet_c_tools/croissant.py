"""Croissant (https://mlcommons.org/croissant) descriptions of IMEMNet-C, made from the loader's own
facts (its configs, features and annotation URLs) and the dataset card's text (summary, licence,
citation, and the sections that answer Croissant's Responsible AI questions), so that each fact is
stated once:

- `dataset()`: the dataset as users hold it, the `croissant.json` beside the card: the published
  annotation files, the media each user downloads (a FileSet per source), and a RecordSet per config;
- `exported(exports)`: what `imemnet-c export` wrote (its Parquet shards), the `croissant.json` of
  the export folder.

A config of several splits has a RecordSet per split (`paired_train`, ...): each split is a file of
its own, which Croissant cannot join into one RecordSet without losing which file a row came from.
The pairs' caption and valence-arousal columns are those of the first row of each id in music_va.csv
and image_va.csv: the RecordSets of `paired` hold the matching files' own columns, and say so.

    python -m imemnet_c_tools.croissant [--out croissant.json]

writes `dataset()` to the committed croissant.json (a test checks that it is what this makes).
"""

import argparse
import json
import os
import re
import uuid

import datasets
from huggingface_hub import DatasetCard

import imemnet_c
from imemnet_c_tools import shipped
from imemnet_c_tools.check import SOURCES
from imemnet_c_tools.sample import HEADERS

CROISSANT = "croissant.json"
CARD = shipped("dataset_card.md")
CONFORMS_TO = ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"]
CONTEXT = {  # the JSON-LD context of Croissant 1.1, as its specification and mlcroissant write it
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "description": {"@container": "@language"},
    "name": {"@container": "@language"},
    **{
        term: f"cr:{term}"
        for term in (
            "arrayShape citeAs column containedIn equivalentProperty excludes extract field fileObject fileProperty "
            "fileSet format includes isArray isLiveDataset jsonPath key md5 parentField path recordSet references "
            "regex repeated replace samplingRate sdVersion separator source subField transform"
        ).split()
    },
}

# The sha256 of the published annotation files whose URL is pinned to a commit (ANNOTATION_URLS); the
# others follow their branch and may change, so Croissant wants no checksum for them.
PUBLISHED_SHA256 = {
    "image_va.csv": "7533754109d628f304cd51ccb77949649f4320fa7ae225c84973cff348f83510",
    "val_matching.txt": "151038c10538d7d2e1760fb7b4056d63e97691a036505459298b2fb292c5bb1c",
    "test_matching.txt": "1b4b64da2936b6fcf04a61647e0b93a57182a2f9a962c7e1d86650f742ac11a4",
}
MATCHING_LINE = ("clip_id", "image_id", "score")  # a matching file's line, in order (imemnet_c.read_pairs)

# Each source's media file names (the id) as glob patterns: the id patterns the loader tells the
# sources apart by (imemnet_c.image_source; clips are `<song>-<segment>`).
NAME_PATTERNS = {
    "iaps": ["[0-9][0-9][0-9][0-9]", "[0-9][0-9][0-9][0-9].[0-9]"],
    "naps": ["*_[0-9]*_[hv]"],
    "emotic/mscoco": ["COCO_*"],
    "emotic/framesdb": ["frame_*"],
    "emotic/ade20k": ["sun_*", "labelme_*"],
    "emotic/emodb_small": ["[a-z0-9]" * 18],
    "clips": ["[0-9]*-[0-9]*"],
}
NOT_MEDIA = ["**/.*", "**/__*", "**/__MACOSX/**"]  # never read as media (imemnet_c.media_file_id)
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
}
ANNOTATION_TYPES = {".csv": "text/csv", ".txt": "text/plain"}
DATA_TYPES = {"string": "sc:Text", "float32": "cr:Float32", "image": "sc:ImageObject", "audio": "sc:AudioObject"}
MODALITIES = (imemnet_c.IMAGES, imemnet_c.AUDIO)


def dataset(card=CARD):
    """The Croissant description of IMEMNet-C as users hold it (croissant.json)."""
    about = _about(card)
    configs = imemnet_c.ImemnetC.BUILDER_CONFIGS
    return {
        **about,
        "isLiveDataset": True,  # music_va.csv and train_matching.txt follow their branch
        "distribution": [_annotation_file(name) for name in imemnet_c.ANNOTATION_URLS]
        + [_media_files(source) for source in SOURCES],
        "recordSet": [_annotation_record_set(config, split) for config in configs for split in config.splits],
    }


def exported(exports, card=CARD):
    """The Croissant description of an export folder: `exports` is {exported config: (the loader
    config it holds, its splits)}; a split's Parquet shards are `<config>/<split>-*.parquet`."""
    about = _about(card)
    about["description"] += (
        " This folder is an export written by `imemnet-c export`: Parquet shards per config and split, with the "
        "media embedded where the config has them."
    )
    configs = {config.name: config for config in imemnet_c.ImemnetC.BUILDER_CONFIGS}
    distribution, record_sets = [], []
    for name, (source, splits) in exports.items():
        config = configs[source]
        for split in splits:
            record_set, shards = record_set_id(name, split, config.splits), f"{name}/{split}-*.parquet"
            distribution.append(
                {
                    "@type": "cr:FileSet",
                    "@id": f"{record_set}-parquet",
                    "name": shards,
                    "description": f"The {split} split of {name}, as the loader's {source} config gives it.",
                    "encodingFormat": "application/x-parquet",
                    "includes": shards,
                }
            )
            fields = [
                _parquet_field(record_set, column, feature, f"{record_set}-parquet")
                for column, feature in config.features.items()
            ]
            record_sets.append(_record_set(record_set, config, split, fields))
    return {**about, "distribution": distribution, "recordSet": record_sets}


def record_set_id(config, split, splits):
    """The RecordSet of a config's split: the config's name, or `<config>_<split>` if it has several `splits`."""
    return config if len(splits) == 1 else f"{config}_{split}"


def write(description, path):
    """Writes a Croissant description to `path` whole (a temporary name, then renamed); returns `path`."""
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        with open(partial, "w", encoding="utf-8") as f:
            f.write(render(description))
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def render(description):
    """A Croissant description as its file holds it."""
    return json.dumps(description, indent=2, ensure_ascii=False) + "\n"


def _about(card_path):
    """The dataset-level properties, from the card (its metadata, summary, citation and the sections
    that answer the Responsible AI questions) and the loader's version."""
    card = DatasetCard.load(card_path)
    citation = re.search(r"### Citation Information\s+```bibtex\n(.*?)```", card.text, re.S).group(1)
    authors = [author for names in re.findall(r"author\s*=\s*\{(.*)\}", citation) for author in names.split(" and ")]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": card.data.pretty_name,
        "description": _section(card.text, "### Dataset Summary"),
        "url": re.search(r"\*\*Homepage:\*\* (\S+)", card.text).group(1),
        "version": str(imemnet_c.ImemnetC.VERSION),
        "license": {
            "@type": "sc:CreativeWork",
            "name": card.data.license_name,
            "description": _prose(card.data.license_details),
        },
        "citeAs": citation,
        "creator": [{"@type": "sc:Person", "name": " ".join(reversed(author.split(", ")))} for author in authors],
        "keywords": card.data.tags,
        "inLanguage": card.data.language,
        "rai:dataCollection": _section(card.text, "## Dataset Creation"),
        "rai:dataUseCases": [_section(card.text, "### Supported Tasks")],
        "rai:dataBiases": [_section(card.text, "### Discussion of Biases")],
        "rai:dataLimitations": [_section(card.text, "### Other Known Limitations")]
        + _items(_section(card.text, "## Quirks and how the loader treats them", prose=False)),
        "rai:personalSensitiveInformation": [_section(card.text, "### Personal and Sensitive Information")],
    }


def _section(text, heading, prose=True):
    """The text under a heading of the card, up to the next heading of its level or above."""
    body = text.split(f"\n{heading}\n", 1)[1]
    body = re.split(rf"\n#{{1,{len(heading.split()[0])}}} ", body)[0].strip()
    return _prose(body) if prose else body


def _items(text):
    """The items of a Markdown list, each as one line."""
    return [_prose(item) for item in ("\n" + text).split("\n- ") if item.strip()]


def _prose(text):
    return " ".join(text.replace("**", "").split())


def _annotation_file(name):
    url = imemnet_c.ANNOTATION_URLS[name]
    checksum = {"sha256": PUBLISHED_SHA256[name]} if name in PUBLISHED_SHA256 else {}
    return {
        "@type": "cr:FileObject",
        "@id": name,
        "name": name,
        "description": f"As published on GitHub by {url.split('/')[3]}"
        + (", at a commit." if checksum else ", on a branch: it may change, so it has no checksum."),
        "contentUrl": url,
        "encodingFormat": ANNOTATION_TYPES[os.path.splitext(name)[1]],
        **checksum,
    }


def _media_files(source):
    modality = imemnet_c.AUDIO if source == "clips" else imemnet_c.IMAGES
    return {
        "@type": "cr:FileSet",
        "@id": source,
        "name": source,
        "description": f"The {modality.name} files of {source}, which each user downloads with permission (see "
        "the card), anywhere in data_dir: loose, or in zip, tar or tar.gz archives. A file is the media of the id "
        "that is its name; its extension may be in any case.",
        "encodingFormat": sorted({MEDIA_TYPES[extension] for extension in modality.extensions}),
        "includes": [
            f"**/{name}.{_any_case(extension[1:])}"
            for name in NAME_PATTERNS[source]
            for extension in modality.extensions
        ],
        "excludes": NOT_MEDIA,
    }


def _any_case(text):
    return "".join(f"[{c.lower()}{c.upper()}]" for c in text)


def _annotation_record_set(config, split):
    """The RecordSet of a config's split, read from its annotation file. What no Croissant source
    gives is described: a media column (the file of the row's id, which the loader finds), a column
    the loader computes from an id, and the columns joined from other files, which the joining id's
    field names. (mlcroissant 1.1.1 reads no RecordSet that joins one file to two others: it asks for
    a join between those two, and its join rewrites the lines of the first.)"""
    record_set = record_set_id(config.name, split, config.splits)
    joins = {}  # {the row field a join is on: (the config of the joined table's rows, [(column, its field)])}
    for column, spec in config.columns.items():
        if spec not in MODALITIES and "." in spec[1]:
            lookup, row_field = spec[1].split(".")
            joins.setdefault(config.kind.lookups[lookup][1], (_table_config(lookup), []))[1].append((column, row_field))
    fields = []
    for column, spec in config.columns.items():
        field = {"@type": "cr:Field", "@id": f"{record_set}/{column}", "name": column}
        if spec in MODALITIES:
            field["dataType"] = DATA_TYPES[spec.name]
            field["description"] = (
                f"The {spec.name} file of {_column(config, config.kind.media[spec])}, in its source's FileSet."
            )
        elif "." not in spec[1]:
            feature, row_field, *function = spec
            field["dataType"] = DATA_TYPES[feature.dtype]
            if function and function[0] not in RULES:
                field["description"] = DESCRIBED[function[0]]
            else:
                field["source"] = _source(config.splits[split], row_field)
                if function:
                    field["source"]["transform"] = {"regex": RULES[function[0]]}
            if row_field in joins:
                table, columns = joins[row_field]
                field["description"] = (
                    f"Joins {table.name}/{_column(table, 'id')}: {', '.join(column for column, _ in columns)} are the "
                    f"{', '.join(name for _, name in columns)} of the first row of this id there (null where none)."
                )
        else:
            continue
        fields.append(field)
    return _record_set(record_set, config, split, fields)


def _column(config, row_field):
    """The column of a config that holds a row's field as it is."""
    return next(column for column, spec in config.columns.items() if spec[1:] == (row_field,))


def _table_config(kind):
    """The config (and RecordSet) of a kind of annotation table's rows as they are: image_annotations, ..."""
    return next(
        config for config in imemnet_c.ImemnetC.BUILDER_CONFIGS if config.table_kind == kind and not config.media
    )


def _source(file, row_field):
    """Where a row's field lies in its annotation file."""
    if file in HEADERS:  # a CSV: the id is its first named column; the others are named after the field
        column = next(cell for cell in HEADERS[file] if cell) if row_field == "id" else row_field
        return {"fileObject": {"@id": file}, "extract": {"column": column}}
    return {
        "fileObject": {"@id": file},
        "extract": {"fileProperty": "lines"},
        "transform": {"regex": rf"^\s*(?:\S+\s+){{{MATCHING_LINE.index(row_field)}}}(\S+)"},
    }


def _record_set(record_set, config, split, fields):
    description = config.description
    if len(config.splits) > 1:
        description += f" Its {split} split."
    return {"@type": "cr:RecordSet", "@id": record_set, "name": record_set, "description": description, "field": fields}


def _parquet_field(record_set, column, feature, shards):
    field = {
        "@type": "cr:Field",
        "@id": f"{record_set}/{column}",
        "name": column,
        "dataType": DATA_TYPES[
            feature.dtype if isinstance(feature, datasets.Value) else type(feature).__name__.lower()
        ],
        "source": {"fileSet": {"@id": shards}, "extract": {"column": column}},
    }
    if not isinstance(feature, datasets.Value):  # an Image or Audio column holds {"bytes", "path"}
        field["source"]["transform"] = {"jsonPath": "bytes"}
    return field


RULES = {imemnet_c.song_of: "^([^-]*)"}  # the loader's rules on ids that a regular expression states
DESCRIBED = {imemnet_c.image_source: "iaps, naps or emotic: the source of the image, told by its id's pattern."}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(CARD), CROISSANT))
    print(write(dataset(), parser.parse_args().out))


if __name__ == "__main__":
    main()
