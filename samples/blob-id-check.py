# The independent blob-id check of samples/real-crates-every-version.md (run from the survey's
# working directory: combined.json, rewrites.args, cache/). Not part of provero.
# Independent blob-id check: is there any commit whose tree holds every file of the crate
# (minus what cargo generates) byte for byte under one directory?
import json, sys, tarfile, hashlib, subprocess, io
rep = json.load(open('combined.json'))
GEN = {'.cargo_vcs_info.json', 'Cargo.lock', 'Cargo.toml.orig'}
def blob(d): return hashlib.sha1(b'blob %d\0' % len(d) + d).hexdigest()
def files(name, v):
    t = tarfile.open(f'cache/artifacts/crates/{name}-{v}.crate')
    out = {}
    for m in t.getmembers():
        if not m.isfile(): continue
        rel = m.name.split('/', 1)[1]
        out[rel] = t.extractfile(m).read()
    if 'Cargo.toml.orig' in out:
        out['Cargo.toml'] = out['Cargo.toml.orig']
    return {k: blob(v) for k, v in out.items() if k not in GEN or k == 'Cargo.toml'}
def git(d, *a): return subprocess.run(['git', '--git-dir', d] + list(a), capture_output=True, text=True).stdout
for r in rep['results']:
    if r['verdict'] != 'mismatch': continue
    red = [f for f in r['findings'] if f['severity'] == 'red-flag']
    if any(f.get('found_in') and f['found_in']['commit'] is None for f in red): continue
    n, v = r['package']['name'], r['package']['version']
    repo = [m for m in [r['source'].get('repository')] if m][0]
    owner_repo = repo.replace('https://github.com/', '')
    import glob
    mir = [g for g in glob.glob('/work/.mirror/*/repo') if g.split('/')[-2].lower() == owner_repo.replace('/', '+').lower()]
    if not mir:
        print(n, v, 'no mirror for', repo); continue
    d = mir[0]
    fs = files(n, v)
    cands = set()
    for f in red:
        fi = f.get('found_in')
        if fi and fi['commit']:
            c = fi['commit']
            cands.add(c)
            cands.update(git(d, 'rev-list', '--all', '--ancestry-path', f'{c}..').split()[-300:])
    hit = None
    for c in cands:
        tree = {}
        for line in git(d, 'ls-tree', '-r', c).splitlines():
            meta, path = line.split('\t', 1)
            tree[path] = meta.split()[2]
        dirs = {p[:-len('Cargo.toml')].rstrip('/') for p, o in tree.items() if p.endswith('Cargo.toml') and o == fs.get('Cargo.toml')}
        for dd in dirs:
            if all(tree.get((dd + '/' if dd else '') + k) == o for k, o in fs.items()):
                hit = (c, dd); break
        if hit: break
    print(n, v, r['source'].get('commit', '')[:10], len(cands), 'candidates:', 'FALSE RED FLAG, matches ' + str(hit) if hit else 'no commit holds every file (real)')
