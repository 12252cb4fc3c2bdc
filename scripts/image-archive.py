#!/usr/bin/env python3
"""Finishes an OCI archive that buildah or podman pushed, and reports on it:

    scripts/image-archive.py ARCHIVE REFERENCE
    scripts/image-archive.py --table OUT.json < reports   # one report per line: saved, printed as a table

The archive gets two more entries that loaders other than containers/image read, without changing
the image or its digest: the `io.containerd.image.name` annotation in index.json (containerd, and
so `kind load image-archive`, names an imported OCI image only by it: a reference in
`org.opencontainers.image.ref.name` alone leaves the image nameless), and a docker-archive
manifest.json (what `docker load` reads), as `docker save` has written since Docker 25. Prints one
JSON object: reference, manifest digest, compressed and uncompressed size, layers, labels, user,
entrypoint.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path


def blob_path(digest: str) -> str:
    algo, hexdigest = digest.split(":", 1)
    return f"blobs/{algo}/{hexdigest}"


def table(out: Path) -> None:
    images = [json.loads(line) for line in sys.stdin if line.strip()]
    out.write_text(json.dumps(images, indent=2) + "\n")
    print("| image | digest | compressed MiB | uncompressed MiB | archive | SBOM |")
    print("|---|---|---|---|---|---|")
    for i in images:
        print(
            f"| {i['reference']} | {i['digest']} | {i['compressed_bytes'] / 1048576:.1f} | "
            f"{i['uncompressed_bytes'] / 1048576:.1f} | {i['archive']} | {i.get('sbom', '-')} |"
        )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        table(Path(sys.argv[2]))
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    archive, reference = Path(sys.argv[1]), sys.argv[2]
    with tarfile.open(archive) as tar:
        members = {m.name.removeprefix("./"): (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}

    def read(name: str) -> bytes:
        if name not in members or members[name][1] is None:
            sys.exit(f"image-archive: {archive} has no {name}")
        return members[name][1]

    index = json.loads(read("index.json"))
    if len(index.get("manifests", [])) != 1:
        sys.exit(f"image-archive: {archive} holds {len(index.get('manifests', []))} manifests, expected one")
    entry = index["manifests"][0]
    manifest_bytes = read(blob_path(entry["digest"]))
    if "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() != entry["digest"]:
        sys.exit(f"image-archive: the manifest in {archive} does not match its digest")
    manifest = json.loads(manifest_bytes)
    config = json.loads(read(blob_path(manifest["config"]["digest"])))

    compressed = len(manifest_bytes) + manifest["config"]["size"]
    uncompressed = 0
    for layer in manifest["layers"]:
        data = read(blob_path(layer["digest"]))
        if "sha256:" + hashlib.sha256(data).hexdigest() != layer["digest"]:
            sys.exit(f"image-archive: layer {layer['digest']} in {archive} does not match its digest")
        compressed += len(data)
        uncompressed += len(gzip.decompress(data)) if layer["mediaType"].endswith("gzip") else len(data)

    entry.setdefault("annotations", {})
    entry["annotations"]["org.opencontainers.image.ref.name"] = reference
    entry["annotations"]["io.containerd.image.name"] = reference
    docker_manifest = [{
        "Config": blob_path(manifest["config"]["digest"]),
        "RepoTags": [reference],
        "Layers": [blob_path(layer["digest"]) for layer in manifest["layers"]],
    }]
    replaced = {
        "index.json": json.dumps(index, separators=(",", ":")).encode(),
        "manifest.json": json.dumps(docker_manifest, separators=(",", ":")).encode(),
    }
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
        names = sorted(set(members) | set(replaced))
        for name in names:
            if name in replaced:
                info = tarfile.TarInfo(name)
                info.size = len(replaced[name])
                info.mode = 0o644
                out.addfile(info, io.BytesIO(replaced[name]))
                continue
            member, data = members[name]
            member.name = name
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    tmp.replace(archive)

    image_config = config.get("config", {})
    print(json.dumps({
        "reference": reference,
        "digest": entry["digest"],
        "archive": str(archive),
        "archive_bytes": archive.stat().st_size,
        "compressed_bytes": compressed,
        "uncompressed_bytes": uncompressed,
        "layers": len(manifest["layers"]),
        "labels": image_config.get("Labels", {}),
        "user": image_config.get("User"),
        "entrypoint": image_config.get("Entrypoint"),
        "cmd": image_config.get("Cmd"),
        "created": config.get("created"),
    }))


if __name__ == "__main__":
    main()
