#!/usr/bin/env python3
"""A synthetic crates.io database dump for measuring name patterns (`crates:*@*`) at the
size of crates.io: N crates, about 12 versions each (1.8 million versions for 150,000
crates), in crates.io's layout (`<date>/metadata.json`, `<date>/data/crates.csv`,
`<date>/data/versions.csv`, columns in the dump's alphabetical order, the long text
columns quoted), versions in publication order (interleaved across crates, as the
`id` order is), 3% yanked. Not a test fixture: `docs/scale-out.md` and `BENCHMARKS.md`
("work list") use it.

    python3 benches/synthetic_dump.py --crates 150000 --order crates-first dump-cf.tar.gz
    python3 benches/synthetic_dump.py --crates 150000 --order versions-first dump-vf.tar.gz
"""
import argparse
import io
import random
import tarfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crates", type=int, default=150_000)
    ap.add_argument("--versions-per-crate", type=float, default=12.0)
    ap.add_argument("--order", choices=["crates-first", "versions-first"], default="crates-first")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("out")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    n = a.crates
    crates = io.StringIO()
    crates.write("created_at,description,documentation,downloads,homepage,id,max_features,"
                 "max_upload_size,name,readme,repository,updated_at\n")
    names = []
    for i in range(1, n + 1):
        name = f"{rnd.choice(['serde', 'tokio', 'rand', 'log', 'foo', 'bar'])}-{i:06d}-x"
        names.append(name)
        crates.write(f"2019-01-01 00:00:00.123456,\"A crate, number {i}\",,{i * 7},,{i},,,"
                     f"{name},\"# {name}\n\nA readme with \"\"quotes\"\", commas.\","
                     f"https://github.com/example/{name},2020-01-01 00:00:00\n")
    # Versions in publication order: each crate gets a count around the mean, then all
    # versions are shuffled into one timeline (ids follow the timeline).
    per = [max(1, int(rnd.expovariate(1 / a.versions_per_crate))) for _ in range(n)]
    timeline = [c for c in range(n) for _ in range(per[c])]
    rnd.shuffle(timeline)
    start = time.mktime((2015, 1, 1, 0, 0, 0, 0, 0, 0))
    step = (time.mktime((2024, 6, 1, 0, 0, 0, 0, 0, 0)) - start) / max(1, len(timeline))
    seen = [0] * n
    versions = io.StringIO()
    versions.write("bin_names,checksum,crate_id,crate_size,created_at,downloads,edition,features,"
                   "has_lib,id,license,links,num,published_by,rust_version,updated_at,yanked\n")
    for vid, c in enumerate(timeline, start=1):
        k = seen[c]
        seen[c] += 1
        num = f"{k // 10}.{k % 10}.{rnd.randrange(3)}"
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + vid * step))
        frac = f".{rnd.randrange(1_000_000):06d}"
        yanked = "t" if rnd.random() < 0.03 else "f"
        versions.write(f"{{}},{rnd.getrandbits(256):064x},{c + 1},{rnd.randrange(5000, 900000)},"
                       f"{at}{frac},{rnd.randrange(100000)},2021,\"{{\"\"default\"\":[\"\"std\"\"],"
                       f"\"\"std\"\":[]}}\",t,{vid},MIT OR Apache-2.0,,{num},{rnd.randrange(9000)},"
                       f"1.60,{at},{yanked}\n")
    prefix = "2024-06-01-020017"
    tables = [("data/crates.csv", crates.getvalue()), ("data/versions.csv", versions.getvalue())]
    if a.order == "versions-first":
        tables.reverse()
    with tarfile.open(a.out, "w:gz", compresslevel=6) as t:
        entries = [("metadata.json", '{"timestamp":"2024-06-01T02:00:17Z","crates_io_commit":"x"}')]
        entries += tables
        # The rest of a real dump (download counts), never read: the reader stops before it.
        entries.append(("data/version_downloads.csv", "date,downloads,version_id\n"))
        for path, text in entries:
            data = text.encode()
            info = tarfile.TarInfo(f"{prefix}/{path}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    print(f"{n} crates, {len(timeline)} versions -> {a.out}")


if __name__ == "__main__":
    main()
