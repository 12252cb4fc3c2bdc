#!/usr/bin/env python3
"""Assembles the root filesystem of one image from what this machine has, for `FROM scratch`:

    scripts/image-rootfs.py BINARY OUT_DIR

OUT_DIR gets the binary at /usr/local/bin/, its ELF interpreter and the shared libraries it links
(read with ldd, copied to the paths the loader looks in), the CA bundle, /etc/passwd and
/etc/group with root and nonroot (uid/gid 65532, the uid every pod security context of the
operator and the charts sets), /etc/nsswitch.conf, /etc/os-release and /etc/debian_version, and an empty /tmp (mode 1777,
the mount point of the pods' emptyDir); the Containerfile adds /home/nonroot, owned by nonroot. For each Debian package a copied file
comes from, the package's dpkg status stanza goes to /var/lib/dpkg/status.d/<package> (the layout
distroless uses), so image scanners know which glibc and CA bundle the image carries. Nothing
else: no shell, no package manager.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NONROOT = 65532


def linked_files(binary: Path) -> list[Path]:
    """The interpreter and shared libraries the dynamic loader maps for `binary` (none when static)."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if "not a dynamic executable" in proc.stdout + proc.stderr or "statically linked" in proc.stdout:
        return []
    if proc.returncode != 0:
        sys.exit(f"image-rootfs: ldd {binary} failed: {proc.stderr.strip()}")
    files = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            sys.exit(f"image-rootfs: {binary} needs a library this machine lacks: {line}")
        m = re.match(r"(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            files.append(Path(m.group(1)))
    return files


def copy_file(src: Path, root: Path, dest: Path | None = None, mode: int | None = None) -> None:
    """Copies src (following symlinks) to the same absolute path (or dest) under root."""
    target = root / (dest or src).relative_to("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src.resolve(), target)
    os.chmod(target, mode if mode is not None else (0o755 if os.access(src, os.X_OK) else 0o644))


def owning_package(path: Path) -> str | None:
    for candidate in (path, path.resolve()):
        proc = subprocess.run(["dpkg-query", "-S", str(candidate)], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout.split(":")[0].strip()
    return None


def status_stanza(package: str) -> str:
    fields = "Package,Status,Priority,Section,Installed-Size,Maintainer,Architecture,Multi-Arch,Source,Version,Provides,Depends,Description,Homepage"
    proc = subprocess.run(["dpkg-query", "-s", package], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"image-rootfs: dpkg does not know the package {package}: {proc.stderr.strip()}")
    keep = set(fields.split(","))
    out, current = [], None
    for line in proc.stdout.splitlines():
        if line[:1] in (" ", "\t"):
            if current in keep:
                out.append(line)
            continue
        current = line.split(":", 1)[0]
        if current in keep:
            out.append(line)
    return "\n".join(out) + "\n"


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, root = Path(sys.argv[1]), Path(sys.argv[2])
    if not binary.is_file():
        sys.exit(f"image-rootfs: {binary} is not a file")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)

    copy_file(binary, root, Path("/usr/local/bin") / binary.name, mode=0o555)
    packages: set[str] = set()
    for lib in linked_files(binary):
        copy_file(lib, root)
        package = owning_package(lib)
        if package is None:
            sys.exit(f"image-rootfs: {lib} belongs to no Debian package; the image could not say what it carries")
        packages.add(package)
    if not CA_BUNDLE.is_file():
        sys.exit(f"image-rootfs: {CA_BUNDLE} is missing (apt-get install ca-certificates)")
    copy_file(CA_BUNDLE, root, mode=0o444)
    packages.add("ca-certificates")
    for package in sorted(packages):
        write(root, f"var/lib/dpkg/status.d/{package.split(':')[0]}", status_stanza(package))
    os_release = Path("/usr/lib/os-release") if Path("/usr/lib/os-release").is_file() else Path("/etc/os-release")
    copy_file(os_release, root, Path("/etc/os-release"))
    # Scanners (trivy) recognise Debian, and so read status.d, by this file.
    if Path("/etc/debian_version").is_file():
        copy_file(Path("/etc/debian_version"), root)

    write(root, "etc/passwd", f"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n")
    write(root, "etc/group", f"root:x:0:\nnonroot:x:{NONROOT}:\n")
    write(root, "etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    print(f"image-rootfs: {root}: {binary.name}, {len(linked_files(binary))} linked files, packages {', '.join(sorted(packages))}")


if __name__ == "__main__":
    main()
