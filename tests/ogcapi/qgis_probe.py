"""QGIS (Debian's python3-qgis, 3.22 on Debian 12) as an OGC API - Features client, offscreen.

Run by the system Python, not the project's: `/usr/bin/python3 qgis_probe.py < job.json`. The job:
{"base": URL, "sessions": [{"user", "token", "collections": [...]}], "render": PNG path or null}.
Every session signs in as its user the way docs/ogcapi.md tells QGIS users (a Basic authentication
configuration: user name and API token), all in one QGIS process, so that an answer Qt cached for
one user would show in the next. Prints, per session, each layer's validity, geometry type and ids,
and how many pixels the first session's layers coloured when rendered.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp()  # never the user's own profile

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsAuthMethodConfig,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def basic_config(user: str, token: str) -> str:
    config = QgsAuthMethodConfig()
    config.setMethod("Basic")
    config.setName(f"SEGIS token ({user})")
    config.setConfig("username", user)
    config.setConfig("password", token)
    QgsApplication.authManager().storeAuthenticationConfig(config)
    return config.id()


def render(layers: list, path: str) -> int:
    """Draw the layers on white into a PNG; the number of pixels they coloured."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setBackgroundColor(QColor("white"))
    settings.setOutputSize(QSize(800, 600))
    extent = layers[0].extent()
    for layer in layers[1:]:
        extent.combineExtentWith(layer.extent())
    settings.setExtent(extent.buffered(extent.width() * 0.05 or 0.01))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(path, "png")
    white = QColor("white").rgb()
    return sum(
        image.pixel(x, y) != white for x in range(image.width()) for y in range(image.height())
    )


def main() -> None:
    job = json.load(sys.stdin)
    QgsApplication.setPrefixPath("/usr", True)  # without it no authentication method loads
    app = QgsApplication([], False)
    app.initQgis()
    QgsApplication.authManager().setMasterPassword("probe-master", True)
    results, kept, drawn = [], [], None
    for session in job["sessions"]:
        config = basic_config(session["user"], session["token"])
        layers = {}
        for name in session["collections"]:
            uri = f"url='{job['base']}/ogcapi' typename='{name}' authcfg='{config}'"
            layer = QgsVectorLayer(uri, name, "OAPIF")
            kept.append(layer)
            layers[name] = {
                "valid": layer.isValid(),
                "geometry": QgsWkbTypes.displayString(layer.wkbType()),
                "ids": sorted(f["编号"] for f in layer.getFeatures()) if layer.isValid() else [],
            }
        results.append({"user": session["user"], "layers": layers})
    if job.get("render"):
        first = [
            layer for layer in kept[: len(job["sessions"][0]["collections"])] if layer.isValid()
        ]
        drawn = render(first, job["render"])
    print(json.dumps({"sessions": results, "drawn_pixels": drawn}, ensure_ascii=False), flush=True)
    # QGIS 3.22 may crash tearing down providers at exit (exitQgis): the answer is out, leave now.
    os._exit(0)


if __name__ == "__main__":
    main()
