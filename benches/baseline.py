#!/usr/bin/env python3
"""The straightforward way to do what provero does, kept beside the benchmark as the yardstick.

A thread pool; per package: fetch the sparse index line and the .crate over HTTP, check the
SHA-256, read .cargo_vcs_info.json, `git clone --bare --filter=blob:none` the repository into a
scratch directory, `git ls-tree -r` the recorded commit, and compare every file by git blob id.
No sharing between packages (each clones), no rules beyond skipping the files cargo generates:
that is what a short script does, and what the issue asks provero to beat by 3x.

usage: baseline.py INDEX_URL SPEC_LIST JOBS REWRITE_FROM REWRITE_TO
prints one JSON line: {"packages": N, "verified": V, "seconds": S}
"""

import concurrent.futures
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

GENERATED = {".cargo_vcs_info.json", "Cargo.toml", "Cargo.toml.orig", "Cargo.lock"}


def index_path(name):
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def check(index, dl, spec, rewrite):
    name, version = spec.split(":", 1)[1].split("@")
    line = next(
        json.loads(l)
        for l in get(index + index_path(name)).decode().splitlines()
        if l.strip() and json.loads(l)["vers"] == version
    )
    data = get(dl.replace("{crate}", name).replace("{version}", version))
    if hashlib.sha256(data).hexdigest() != line["cksum"]:
        return False
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            if m.isfile():
                files[m.name.split("/", 1)[1]] = t.extractfile(m).read()
    vcs = json.loads(files[".cargo_vcs_info.json"])
    sha, sub = vcs["git"]["sha1"], vcs.get("path_in_vcs", "")
    manifest = files["Cargo.toml.orig"].decode()
    repo = next(l.split('"')[1] for l in manifest.splitlines() if l.startswith("repository"))
    url = repo.replace(rewrite[0], rewrite[1], 1)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(
            # -c reaches the local upload-pack too: it serves filters the way public hosts do.
            ["git", "-c", "uploadpack.allowFilter=true", "clone", "--quiet", "--bare",
             "--filter=blob:none", url, d + "/r"],
            check=True,
        )
        out = subprocess.run(
            ["git", "--git-dir", d + "/r", "ls-tree", "-r", sha],
            check=True,
            capture_output=True,
        ).stdout.decode()
    tree = {}
    for l in out.splitlines():
        meta, path = l.split("\t", 1)
        tree[path] = meta.split()[2]
    for path, content in files.items():
        if path in GENERATED:
            continue
        blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        if tree.get(f"{sub}/{path}" if sub else path) != blob:
            return False
    return True


def main():
    index, spec_list, jobs, rw_from, rw_to = sys.argv[1:6]
    index = index.rstrip("/") + "/"
    dl = json.loads(get(index + "config.json"))["dl"]
    specs = [s.strip() for s in open(spec_list) if s.strip() and not s.startswith("#")]
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(int(jobs)) as pool:
        ok = list(pool.map(lambda s: check(index, dl, s, (rw_from, rw_to)), specs))
    print(json.dumps({"packages": len(specs), "verified": sum(ok), "seconds": time.time() - start}))


if __name__ == "__main__":
    main()
