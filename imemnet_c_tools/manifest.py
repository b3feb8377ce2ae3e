"""The media manifest of `imemnet-c check DATA_DIR --manifest FILE`: the sha256 and size of every
media file a load of the checked configs uses, by id, with its source and where it lies in
DATA_DIR (an archive and its member, or a path); and what `--against FILE` finds: the ids whose file
differs from an earlier manifest's, is missing, or is extra.

    {"manifest": "imemnet-c media manifest", "version": 1, "configs": ["image", "music", "paired"],
     "files": [{"modality": "image", "id": "1001", "source": "iaps", "path": "IAPS 1-20 Images/1001.JPG",
                "size": 2140, "sha256": "..."},
               {"modality": "audio", "id": "3001-9", "source": "clips", "archive": "IMEMNet_clips.tar",
                "member": "clips/3001-9.wav", "size": 8044, "sha256": "..."}, ...]}

The files are in the order of their modality and id, and the JSON is written with sorted keys and
no date or machine's path: the same media in the same places give the same bytes, and so the same
manifest sha256, which a paper can cite.
"""

import hashlib
import json
import os
import re
import uuid

FORMAT, VERSION = "imemnet-c media manifest", 1
MODALITIES = ("image", "audio")
KINDS = ("differ", "missing", "extra")  # what `compare` finds
WHERE = (("path",), ("archive", "member"))  # a loose file's fields, or an archive member's


class BadManifest(ValueError):
    """A file given as a manifest that is not one this version reads."""


def entry(modality, media_id, source, location, sha256, data_dir):
    """A manifest's file: the media file of `media_id` at `location` (a Location of the loader)."""
    where = _relative(location.container, data_dir)
    place = {"path": where} if location.member is None else {"archive": where, "member": location.member}
    return {"modality": modality, "id": media_id, "source": source, **place, "size": location.size, "sha256": sha256}


def _relative(path, data_dir):
    return os.path.relpath(path, data_dir).replace(os.sep, "/")


def make(configs, files):
    """A manifest of `files` (`entry`s), made by a check of `configs`."""
    files = sorted(files, key=lambda file: (file["modality"], file["id"]))
    return {"manifest": FORMAT, "version": VERSION, "configs": list(configs), "files": files}


def render(manifest):
    """A manifest as its file holds it."""
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(path, manifest):
    """Writes a manifest to `path` whole (a temporary name, then renamed); returns its sha256."""
    content = render(manifest).encode("utf-8")
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        with open(partial, "wb") as f:
            f.write(content)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return hashlib.sha256(content).hexdigest()


def read(path, known_configs):
    """The manifest in the file `path`; BadManifest, naming the file (and the entry) at fault, if it
    is none this version reads, or names configs other than `known_configs`."""
    usage = f"expected what `imemnet-c check DATA_DIR --manifest {path}` writes"
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise BadManifest(f"{path}: no such file; {usage}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadManifest(f"{path} is not a manifest ({error}); {usage}.") from None
    if not isinstance(manifest, dict) or manifest.get("manifest") != FORMAT:
        raise BadManifest(f"{path} is not an imemnet-c media manifest; {usage}.")
    if manifest.get("version") != VERSION:
        raise BadManifest(
            f"{path} is a manifest of version {manifest.get('version')!r}; this imemnet-c reads version {VERSION}. "
            "Use the imemnet-c that wrote it, or write it anew."
        )
    configs, files = manifest.get("configs"), manifest.get("files")
    if not (isinstance(configs, list) and configs and all(config in known_configs for config in configs)):
        raise BadManifest(f"{path}: configs is {configs!r}, expected some of {', '.join(known_configs)}; {usage}.")
    if not isinstance(files, list):
        raise BadManifest(f"{path}: files is {type(files).__name__}, expected a list of files; {usage}.")
    seen = set()
    for index, file in enumerate(files):
        problem = _entry_problem(file)
        if problem is None and (file["modality"], file["id"]) in seen:
            problem = f"a second file for the {file['modality']} {file['id']}"
        if problem:
            raise BadManifest(f"{path}, files[{index}]: {problem}; {usage}.")
        seen.add((file["modality"], file["id"]))
    return manifest


def _entry_problem(file):
    """What makes a manifest's file not what `entry` writes, or None."""
    if not isinstance(file, dict):
        return f"{file!r} is not a file's entry"
    if file.get("modality") not in MODALITIES:
        return f"modality is {file.get('modality')!r}, expected one of {', '.join(MODALITIES)}"
    for field in ("id", "source"):
        if not isinstance(file.get(field), str) or not file[field]:
            return f"{field} is {file.get(field)!r}, expected text"
    if not any(set(where) <= file.keys() and all(isinstance(file[f], str) for f in where) for where in WHERE):
        return "it says neither a path nor an archive and member"
    if type(file.get("size")) is not int or file["size"] < 0:
        return f"size is {file.get('size')!r}, expected a number of bytes"
    if not isinstance(file.get("sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", file["sha256"]):
        return f"sha256 is {file.get('sha256')!r}, expected 64 hexadecimal digits"
    return None


def compare(earlier, now):
    """What differs between the manifest `earlier` and the manifest `now`, by id: {"differ": [...],
    "missing": [...] (in `earlier`, without a file now), "extra": [...] (a file now, not in
    `earlier`)}, each item {"modality", "id", "source", "now", "manifest"}, the last two the
    entries, or None."""
    before = {(file["modality"], file["id"]): file for file in earlier["files"]}
    after = {(file["modality"], file["id"]): file for file in now["files"]}
    found = {kind: [] for kind in KINDS}
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        kind = "missing" if new is None else "extra" if old is None else None
        if kind is None and (old["sha256"], old["size"]) != (new["sha256"], new["size"]):
            kind = "differ"
        if kind:
            found[kind].append(
                {"modality": key[0], "id": key[1], "source": (new or old)["source"], "now": new, "manifest": old}
            )
    return found


def where(file):
    """Where a manifest's file lies, as a person reads it."""
    return file["path"] if "path" in file else f"{file['member']} in {file['archive']}"
