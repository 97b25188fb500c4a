"""The API documentation page is served from the package: vendored Swagger UI with its licence, no other host."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from fastapi.testclient import TestClient

from icemonitor.web.app import create_app

VENDOR = Path(str(resources.files("icemonitor.web") / "static" / "vendor"))


def test_api_docs_page_loads_only_the_packages_own_files(tmp_path):
    client = TestClient(create_app(tmp_path / "warehouse.duckdb", ref=lambda p: tmp_path / p))
    for lang, title in (("en", "API documentation"), ("es", "Documentación de la API")):
        r = client.get(f"/api/docs?lang={lang}")
        assert r.status_code == 200 and title in r.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert "/static/vendor/swagger-ui-bundle.js" in assets and "/static/vendor/swagger-ui.css" in assets
        assert not [a for a in assets if "//" in a], assets  # nothing from another host
        for asset in assets:
            if asset.startswith("/static/"):
                assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "icemonitor API"


def test_vendored_swagger_ui_ships_its_licence_and_no_source_map_reference():
    licence = (VENDOR / "LICENSE.swagger-ui.txt").read_text()
    assert "Apache License" in licence and "SmartBear" in licence
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert "sourceMappingURL" not in (VENDOR / name).read_text(encoding="utf-8")
    assert "swagger-ui-dist" in (VENDOR / "README.md").read_text()
