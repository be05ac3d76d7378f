"""The terminal's API types are generated from the live OpenAPI document, never written by hand.

`frontend/openapi.json` must equal what `exchange openapi` prints, and `frontend/src/api/schema.ts` must be
exactly what `npm run gen:api` generates from it. When either test fails, regenerate:
`exchange openapi > frontend/openapi.json && (cd frontend && npm run gen:api)`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from exchange.api.app import openapi_document

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"


def test_committed_openapi_document_matches_the_api() -> None:
    """frontend/openapi.json is the API's current OpenAPI document (no drift between server and client)."""
    committed = json.loads((FRONTEND / "openapi.json").read_text())
    live = json.loads(json.dumps(openapi_document(), sort_keys=True))
    assert committed == live


def test_typescript_api_types_are_generated_from_the_committed_document(tmp_path: Path) -> None:
    """src/api/schema.ts is byte for byte what openapi-typescript makes of frontend/openapi.json."""
    generator = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
    if not generator.exists() or shutil.which("node") is None:
        pytest.fail("frontend dependencies are missing: run `make setup` (npm ci in frontend/)")
    out = tmp_path / "schema.ts"
    subprocess.run(
        [str(generator), "openapi.json", "-o", str(out)], cwd=FRONTEND, check=True, capture_output=True
    )
    assert out.read_text() == (FRONTEND / "src" / "api" / "schema.ts").read_text()
