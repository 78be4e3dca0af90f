# Memory harness (see BENCHMARKS.md "Memory: huge files in small archives"): usage
#   python3 benches/zeros_world.py ROOT PORT N
# then serve ROOT/served on 127.0.0.1:PORT and run provero against ROOT/served/index/.
# Builds a loopback world: N crates, each a 0.5 MB .crate holding a 500 MB file of zeros.
import gzip, hashlib, io, json, os, subprocess, sys, tarfile
root = sys.argv[1]; port = int(sys.argv[2]); n = int(sys.argv[3])
served = f"{root}/served"; os.makedirs(f"{served}/index", exist_ok=True); os.makedirs(f"{served}/dl", exist_ok=True)
json.dump({"dl": f"http://127.0.0.1:{port}/dl/{{crate}}-{{version}}.crate"}, open(f"{served}/index/config.json", "w"))
class Zeros(io.RawIOBase):
    def __init__(s, n): s.left = n
    def readable(s): return True
    def readinto(s, b):
        k = min(len(b), s.left); b[:k] = bytes(k); s.left -= k; return k
for i in range(n):
    name = f"bigz{i}"
    work = f"{root}/work/{name}"
    if not os.path.exists(work):
        os.makedirs(f"{work}/src")
        manifest = f'[package]\nname = "{name}"\nversion = "1.0.0"\nedition = "2021"\nrepository = "https://github.com/acme/{name}"\n'
        open(f"{work}/Cargo.toml", "w").write(manifest); open(f"{work}/src/lib.rs", "w").write("pub fn f() {}\n")
        g = lambda *a: subprocess.run(["git", "-C", work, *a], check=True, capture_output=True)
        g("init", "-q"); g("add", "-A"); g("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "i"); g("tag", "v1.0.0")
        subprocess.run(["git", "clone", "-q", "--bare", work, f"{root}/upstream/{name}"], check=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as t:
            for rel in ["Cargo.toml", "src/lib.rs"]:
                t.add(f"{work}/{rel}", arcname=f"{name}-1.0.0/{rel}")
            ti = tarfile.TarInfo(f"{name}-1.0.0/zeros.bin"); ti.size = 500_000_000
            t.addfile(ti, Zeros(ti.size))
    data = buf.getvalue()
    open(f"{served}/dl/{name}-1.0.0.crate", "wb").write(data)
    d = f"{served}/index/{name[:2]}/{name[2:4]}"; os.makedirs(d, exist_ok=True)
    open(f"{d}/{name}", "w").write(json.dumps({"name": name, "vers": "1.0.0", "deps": [], "cksum": hashlib.sha256(data).hexdigest(), "features": {}, "yanked": False}) + "\n")
    print(name, len(data))
