"""Builds the source-code language identification data set of the default model
from Debian packages: downloads each package with `apt-get download`, unpacks it
with `dpkg-deb -x` (and the source archives some packages ship), labels files by
extension or shebang, drops binaries, minified and vendored files, deduplicates
by content hash and splits train / validation / test BY PACKAGE: every package
belongs to one split, so no project is seen in two.

  /usr/bin/python3 models/pytorch/data_code.py [--cache /work/cache/code-lang]

Writes CACHE/dataset.pt: {"classes", "files": [{"bytes", "label", "package",
"path", "split", "size"}]} with each file's first --keep-bytes bytes, and
CACHE/test/<class>/<package>__<name> copies of the test files (whole, for the
engine evaluation) plus CACHE/stats.json. Needs root for apt-get (run
`apt-get update` first on a fresh machine). About 190 MB of .deb files.
"""
import argparse
import collections
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import zipfile

CLASSES = ["C", "C++", "Python", "Rust", "Go", "JavaScript", "Java", "Shell", "Perl", "Ruby", "PHP",
           "Lua", "Markdown"]

# package -> (split, language of its .h files or None to skip them). Each class has several
# packages in every split; files of other classes found in a package go to that package's split.
PACKAGES = {
    # C
    "gnulib": ("train", "C"), "lttng-modules-dkms": ("train", "C"), "dahdi-dkms": ("train", "C"),
    "openafs-modules-dkms": ("train", "C"), "jool-dkms": ("train", "C"), "apfs-dkms": ("train", "C"),
    "xtables-addons-dkms": ("train", "C"), "iptables-netflow-dkms": ("train", "C"),
    "falcosecurity-scap-dkms": ("train", "C"),
    "acpi-call-dkms": ("val", "C"), "rapiddisk-dkms": ("val", "C"),
    "libxcrypt-source": ("test", "C"), "openrazer-driver-dkms": ("test", "C"),
    "v4l2loopback-dkms": ("test", "C"), "evdi-dkms": ("test", "C"),
    # C++
    "libboost1.81-dev": ("train", "C++"), "libeigen3-dev": ("train", "C++"), "libspdlog-dev": ("train", "C++"),
    "libfmt-dev": ("train", "C++"), "juce-modules-source": ("train", "C++"), "libcrypto++-dev": ("train", "C++"),
    "libpqxx-dev": ("train", "C++"), "libglm-dev": ("train", "C++"), "googletest": ("train", "C++"),
    "libabsl-dev": ("train", "C++"), "libasio-dev": ("train", "C++"), "librange-v3-dev": ("train", "C++"),
    "libtbb-dev": ("train", "C++"), "libopencv-core-dev": ("train", "C++"),
    "libcereal-dev": ("val", "C++"), "libcli11-dev": ("val", "C++"),
    "nlohmann-json3-dev": ("test", "C++"), "libxtensor-dev": ("test", "C++"),
    "libxsimd-dev": ("test", "C++"), "libmsgsl-dev": ("test", "C++"),
    # Python
    "libpython3.11-stdlib": ("train", None), "python3-sympy": ("train", None), "python3-django": ("train", None),
    "python3-twisted": ("train", None), "python3-setuptools": ("train", None),
    # Python from more kinds of project: regular-expression tables (ply, pyparsing, markdown, nltk),
    # old-style headers (reportlab, paramiko), documentation tools (sphinx, babel), numerics.
    "python3-babel": ("train", None), "python3-markdown": ("train", None), "python3-sphinx": ("train", None),
    "python3-pyparsing": ("train", None), "python3-sqlalchemy": ("train", None),
    "python3-networkx": ("train", None), "python3-mako": ("train", None), "python3-paramiko": ("train", None),
    "python3-reportlab": ("train", None), "python3-nltk": ("train", None), "python3-ply": ("train", None),
    "python3-tornado": ("train", None), "python3-numpy": ("train", None),
    "python3-jinja2": ("val", None),
    "python3-pygments": ("test", None), "python3-requests": ("test", None), "python3-docutils": ("test", None),
    # Go
    "golang-1.19-src": ("train", None), "golang-golang-x-net-dev": ("train", None),
    "golang-golang-x-text-dev": ("train", None), "golang-github-prometheus-client-golang-dev": ("train", None),
    "golang-github-spf13-cobra-dev": ("val", None),
    "golang-github-stretchr-testify-dev": ("test", None), "golang-github-gorilla-mux-dev": ("test", None),
    "golang-github-sirupsen-logrus-dev": ("test", None),
    # Rust
    "rust-src": ("train", None), "librust-tokio-dev": ("train", None), "librust-syn-dev": ("train", None),
    "librust-regex-dev": ("train", None), "librust-clap-dev": ("train", None),
    "librust-nom-dev": ("val", None),
    "librust-serde-dev": ("test", None), "librust-rand-dev": ("test", None), "librust-hashbrown-dev": ("test", None),
    # JavaScript
    "node-typescript": ("train", None), "node-babel7": ("train", None), "node-lodash": ("train", None),
    "node-moment": ("train", None), "node-terser": ("train", None), "node-uglify-js": ("train", None),
    "eslint": ("train", None), "node-underscore": ("train", None), "node-commander": ("train", None),
    "node-react": ("train", None),
    "node-acorn": ("val", None), "node-esprima": ("val", None),
    "node-express": ("test", None), "node-marked": ("test", None), "node-markdown-it": ("test", None),
    "node-semver": ("test", None), "node-ws": ("test", None), "node-yargs": ("test", None),
    # Java
    "openjdk-17-source": ("train", None), "bazel-bootstrap-source": ("train", None),
    "bsh-src": ("val", None),
    "openjfx-source": ("test", None),
    # Shell
    "rear": ("train", None), "dracut-core": ("train", None), "live-build": ("train", None),
    "bash-completion": ("train", None), "initramfs-tools-core": ("train", None),
    "kdump-tools": ("val", None),
    "debootstrap": ("test", None), "neofetch": ("test", None), "autopkgtest": ("test", None),
    # Perl
    "perl-modules-5.36": ("train", None), "centreon-plugins": ("train", None), "lintian": ("train", None),
    "debhelper": ("train", None), "libmoose-perl": ("train", None),
    "libdatetime-perl": ("val", None),
    "libmojolicious-perl": ("test", None), "libdbi-perl": ("test", None), "libtemplate-perl": ("test", None),
    "devscripts": ("test", None),
    # Ruby
    "libruby3.1": ("train", None), "rubocop": ("train", None), "vagrant": ("train", None),
    "ruby-activesupport": ("train", None), "ruby-rouge": ("train", None),
    "ruby-sinatra": ("val", None),
    "ruby-rack": ("test", None), "ruby-thor": ("test", None), "ruby-i18n": ("test", None),
    "ruby-rspec-core": ("test", None),
    # PHP
    "mediawiki": ("train", None), "dokuwiki": ("train", None), "roundcube-core": ("train", None),
    "composer": ("train", None), "php-phpseclib": ("train", None),
    "php-twig": ("val", None),
    "php-symfony-console": ("test", None), "php-guzzlehttp-guzzle": ("test", None), "php-monolog": ("test", None),
    "php-league-commonmark": ("test", None), "php-symfony-http-foundation": ("test", None),
    # Lua
    "prosody": ("train", None), "luarocks": ("train", None), "awesome": ("train", None),
    "nmap-common": ("train", None), "lua-penlight": ("train", None),
    "lua-ldoc": ("val", None),
    "lua-busted": ("test", None), "lua-json": ("test", None), "lua-socket": ("test", None),
    "lua-lpeg-patterns": ("test", None),
}

EXTENSIONS = {
    ".c": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++", ".hh": "C++", ".hxx": "C++",
    ".py": "Python", ".rs": "Rust", ".go": "Go", ".js": "JavaScript", ".mjs": "JavaScript",
    ".cjs": "JavaScript", ".java": "Java", ".sh": "Shell", ".bash": "Shell", ".pl": "Perl", ".pm": "Perl",
    ".rb": "Ruby", ".rake": "Ruby", ".php": "PHP", ".lua": "Lua", ".md": "Markdown", ".markdown": "Markdown",
}
SHEBANGS = [(re.compile(rb"^#![^\n]*\b(ba|da|k)?sh\b"), "Shell"), (re.compile(rb"^#![^\n]*\bpython"), "Python"),
            (re.compile(rb"^#![^\n]*\bperl\b"), "Perl"), (re.compile(rb"^#![^\n]*\bruby\b"), "Ruby"),
            (re.compile(rb"^#![^\n]*\blua"), "Lua"), (re.compile(rb"^#![^\n]*\bphp\b"), "PHP"),
            (re.compile(rb"^#![^\n]*\bnode\b"), "JavaScript")]
# Vendored or generated copies, and trees of samples in other languages.
SKIP_PATH = re.compile(r"/(vendor|vendored|third_party|thirdparty|3rdparty|node_modules/.*/node_modules|"
                       r"demos?|samples?|fixtures?)/|jquery|\.min\.js$|"
                       r"/usr/share/doc/|/usr/share/man/|/usr/share/locale/", re.I)
# Packages whose sources come as an archive (others' archives are test data: left alone).
ARCHIVE_PACKAGES = {"bsh-src", "openjfx-source", "openjdk-17-source"}
ARCHIVE = re.compile(r"\.(tar\.gz|tgz|tar\.xz|tar\.bz2|zip)$")
MIN_BYTES, MAX_FILE_BYTES = 100, 4 << 20
CAPS = {"train": 600, "val": 120, "test": 120}  # files per (package, class)


def log(msg):
    print(msg, flush=True)


def download(packages, debs):
    os.makedirs(debs, exist_ok=True)
    have = {f.split("_")[0] for f in os.listdir(debs) if f.endswith(".deb")}
    missing = [p for p in packages if p not in have]
    log(f"downloading {len(missing)} packages with apt-get download")
    if missing and subprocess.run(["apt-get", "download", "-q"] + missing, cwd=debs).returncode == 0:
        missing = []
    for i, pkg in enumerate(missing):  # one failed: retry one by one, skipping the missing ones
        log(f"[download {i + 1}/{len(missing)}] {pkg}")
        r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            log(f"  skipped {pkg}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return {f.split("_")[0]: os.path.join(debs, f) for f in os.listdir(debs) if f.endswith(".deb")}


def unpack(pkg, deb, root):
    """dpkg-deb -x into root/pkg, then expands the source archives of ARCHIVE_PACKAGES."""
    dest = os.path.join(root, pkg)
    if os.path.isdir(dest):
        return dest
    tmp = dest + ".tmp"
    subprocess.run(["rm", "-rf", tmp], check=True)
    os.makedirs(tmp)
    subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
    for base, _, files in os.walk(tmp):
        for f in files:
            path = os.path.join(base, f)
            if pkg not in ARCHIVE_PACKAGES or not ARCHIVE.search(f) or "/usr/share/doc/" in path:
                continue
            out = path + ".d"
            try:
                if f.endswith(".zip"):
                    with zipfile.ZipFile(path) as z:
                        z.extractall(out)
                else:
                    with tarfile.open(path) as t:
                        t.extractall(out, members=[m for m in t.getmembers() if m.isfile() or m.isdir()])
                os.remove(path)
            except (zipfile.BadZipFile, tarfile.TarError, OSError) as e:
                log(f"  {pkg}: could not expand {f}: {str(e)[:200]}")
    os.rename(tmp, dest)
    return dest


def is_minified(data):
    lines = data.split(b"\n")
    return max(len(line) for line in lines) > 1000 or len(data) / max(len(lines), 1) > 200


def label_of(path, data, h_lang):
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    if ext == ".h":
        return h_lang
    if ext in EXTENSIONS:
        lang = EXTENSIONS[ext]
        if lang == "Go" and not re.search(rb"^package \w+", data, re.M):
            return None  # e.g. guile's compiled .go objects
        if lang == "Perl" and ext == ".pl" and re.search(rb"^:- ", data, re.M):
            return None  # Prolog
        if lang == "JavaScript" and is_minified(data):
            return None
        return lang
    if data.startswith(b"#!") and ext in ("", ".in"):
        for pattern, lang in SHEBANGS:
            if pattern.match(data):
                return lang
    if "/bash-completion/completions/" in path and ext == "":
        return "Shell"
    return None


def is_text(data):
    if b"\0" in data[:8192]:
        return False
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start > 65530  # a multi-byte character cut at the boundary
    return True


def collect(pkg, tree, h_lang):
    """(label, relative path, bytes) of every usable file in the unpacked package."""
    out = []
    for base, dirs, files in os.walk(tree):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(base, f)
            rel = os.path.relpath(path, tree)
            if os.path.islink(path) or SKIP_PATH.search("/" + rel):
                continue
            size = os.path.getsize(path)
            if size < MIN_BYTES or size > MAX_FILE_BYTES:
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            if not is_text(data):
                continue
            label = label_of("/" + rel, data, h_lang)
            if label:
                out.append((label, rel, data))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="/work/cache/code-lang", help="download / unpack / output directory")
    parser.add_argument("--keep-bytes", type=int, default=16384, help="bytes of each file kept for training")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    debs = download(list(PACKAGES), os.path.join(args.cache, "debs"))
    seen = {}  # content hash -> split that kept it
    files, dropped_dup = [], collections.Counter()
    # Train first, so a file vendored into a validation or test package is dropped there.
    order = sorted(PACKAGES, key=lambda p: (["train", "val", "test"].index(PACKAGES[p][0]), p))
    for i, pkg in enumerate(order):
        split, h_lang = PACKAGES[pkg]
        if pkg not in debs:
            continue
        tree = unpack(pkg, debs[pkg], os.path.join(args.cache, "unpacked"))
        found = collect(pkg, tree, h_lang)
        by_class = collections.defaultdict(list)
        for label, rel, data in found:
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                dropped_dup[split] += 1
                continue
            seen[digest] = split
            by_class[label].append((rel, data))
        kept = collections.Counter()
        # One stream per package: adding a package does not change which files the others keep.
        rng = random.Random(f"{args.seed}/{pkg}")
        for label, items in sorted(by_class.items()):
            rng.shuffle(items)
            for rel, data in items[:CAPS[split]]:
                files.append({"bytes": data[:args.keep_bytes], "size": len(data), "label": label,
                              "package": pkg, "path": rel, "split": split})
                kept[label] += 1
        log(f"[{i + 1}/{len(order)}] {pkg} ({split}): {len(found)} files, kept "
            + ", ".join(f"{k} {v}" for k, v in sorted(kept.items())))

    stats = {s: {c: 0 for c in CLASSES} for s in ("train", "val", "test")}
    packages = {s: collections.defaultdict(set) for s in stats}
    for f in files:
        stats[f["split"]][f["label"]] += 1
        packages[f["split"]][f["label"]].add(f["package"])
    summary = {"classes": CLASSES, "files": stats, "duplicates_dropped": dict(dropped_dup),
               "packages": {s: {c: sorted(p) for c, p in v.items()} for s, v in packages.items()}}
    with open(os.path.join(args.cache, "stats.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    for s in stats:
        log(f"{s}: {sum(stats[s].values())} files: " + ", ".join(f"{c} {n}" for c, n in stats[s].items()))

    for split_name in ("test", "val"):
        subprocess.run(["rm", "-rf", os.path.join(args.cache, split_name)], check=True)
        for f in files:
            if f["split"] != split_name:
                continue
            d = os.path.join(args.cache, split_name, f["label"].replace("+", "p"))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(tree_root(args.cache, f)), "rb") as src, \
                    open(os.path.join(d, f["package"] + "__" + f["path"].replace("/", "_")), "wb") as dst:
                dst.write(src.read())
    import torch
    torch.save({"classes": CLASSES, "files": files}, os.path.join(args.cache, "dataset.pt"))
    log(f"wrote {os.path.join(args.cache, 'dataset.pt')}")


def tree_root(cache, f):
    return os.path.join(cache, "unpacked", f["package"], f["path"])


if __name__ == "__main__":
    sys.exit(main())
