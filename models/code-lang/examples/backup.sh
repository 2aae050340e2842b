#!/bin/sh
# Copies a directory into a dated tarball and keeps the newest seven.
set -eu

src=${1:?usage: backup.sh SOURCE_DIR [DEST_DIR]}
dest=${2:-"$HOME/backups"}
stamp=$(date +%Y-%m-%d_%H%M%S)
name=$(basename "$src")

mkdir -p "$dest"
tar -czf "$dest/$name-$stamp.tar.gz" -C "$(dirname "$src")" "$name"
echo "wrote $dest/$name-$stamp.tar.gz"

# Remove all but the seven newest archives of this directory.
ls -1t "$dest/$name"-*.tar.gz 2>/dev/null | tail -n +8 | while read -r old; do
    rm -f -- "$old"
    echo "removed $old"
done
