"""The manifest's JSON Schema, generated from the model (and shipped with the package)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from storyreel.model.project import Project

__all__ = ["SCHEMA_ID", "manifest_schema", "shipped_schema"]

SCHEMA_ID = "https://storyreel.dev/schema/manifest.schema.json"


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a storyreel manifest."""
    schema = Project.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "storyreel manifest", **{k: v for k, v in schema.items() if k != "title"}}


def shipped_schema() -> dict[str, Any]:
    """The schema file installed with the package (``storyreel/schema/manifest.schema.json``)."""
    text = resources.files("storyreel").joinpath("schema/manifest.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
