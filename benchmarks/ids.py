"""Invented media ids in the real id patterns, for the benchmarks' generated downloads."""


def picture_ids(count):
    """EMOTIC-style MS COCO picture ids."""
    return [f"COCO_train2014_{index:012d}" for index in range(count)]


def clip_ids(count):
    """`<song>-<segment>` clip ids, thirteen segments per song."""
    return [f"{1000 + index // 13}-{9 + index % 13}" for index in range(count)]
