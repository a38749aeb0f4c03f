#!/usr/bin/env bash
# download.sh: fetch known model files from their public homes and check them.
#
# Every file has a known size and SHA-256. A file already in the output folder
# is verified, and kept when it is good (no download); a bad one is fetched
# again. A download is written to FILE.part and only renamed to FILE after its
# size and digest match; otherwise it is deleted and the script exits non-zero.
#
#   models/download.sh stories260K            # into models/
#   models/download.sh -o /data/models test   # every file the test suite uses
#   models/download.sh --list                 # names, files, sizes, digests
#
# LLAMA2_DOWNLOAD_MIRROR=http://host:port fetches every file as
# $LLAMA2_DOWNLOAD_MIRROR/<file> instead (offline mirrors, tests).
# LLAMA2_DOWNLOAD_TOOL=curl|wget picks the downloader (default: curl, else wget).
set -euo pipefail

# --- the files ------------------------------------------------------------------
# file, size in bytes, accepted SHA-256 digests (comma-separated), URL.
# Digests: Hugging Face publishes each LFS file's "oid sha256" and size; the
# GitHub files were checked against their git blob ids.
#
# stories260K.bin accepts two digests. b0a507e7... is what Hugging Face
# publishes for karpathy/tinyllamas stories260K/stories260K.bin today;
# 9414d5a2... (same size) is the copy our golden test outputs were made from.
readonly TINYLLAMAS=https://huggingface.co/karpathy/tinyllamas/resolve/main
readonly LLAMA2C=https://raw.githubusercontent.com/karpathy/llama2.c/master
readonly AIDREAMER=https://raw.githubusercontent.com/mc9625/ai-dreamer-esp32-s3_matrix/main/data
readonly FILES="
stories260K.bin           1056540   b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696,9414d5a285453a7eab631713d171753232c978f6f97654211469aff8be93c8d6 $TINYLLAMAS/stories260K/stories260K.bin
tok512.bin                6227      037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312 $TINYLLAMAS/stories260K/tok512.bin
stories15M.bin            60816028  cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a $TINYLLAMAS/stories15M.bin
stories42M.bin            167020572 9f65a1000e17d0bc167dd6332e0ce5119a0222a3d920cead5bce413bfab2ee7b $TINYLLAMAS/stories42M.bin
stories110M.bin           438381596 515267168726a1ed1317a64a408492e6af3b67c1f71c5bd98c01d9d721803a24 $TINYLLAMAS/stories110M.bin
tokenizer.bin             433869    50a52ef822ee9e83de5ce9d0be0a025a773d019437f58b5ff9dcafb063ece361 $LLAMA2C/tokenizer.bin
tokenizer.model           499723    9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347 $LLAMA2C/tokenizer.model
aidreams260K.bin          932124    aa722d252ace805c9ff2264dce993df6843c8cec3d1a930d03e4c487f3db9028 $AIDREAMER/aidreams260K.bin
aidreams_tok512.bin       6290      3817c307fffc9637c908ca3430a028db0c46b5700392e0d19b2133d246f54bcb $AIDREAMER/tok512.bin
llama-2-tiny-random.gguf  1750560   81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb https://huggingface.co/aladar/llama-2-tiny-random-GGUF/resolve/main/llama-2-tiny-random.gguf
ggml-vocab-llama-spm.gguf 723869    16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69 https://raw.githubusercontent.com/ggml-org/llama.cpp/master/models/ggml-vocab-llama-spm.gguf
"

# --- the names --------------------------------------------------------------------
# name, the files it stands for.
readonly NAMES="
stories260K     stories260K.bin tok512.bin
stories15M      stories15M.bin
stories42M      stories42M.bin
stories110M     stories110M.bin
tokenizer       tokenizer.bin
tokenizer-model tokenizer.model
aidreams260K    aidreams260K.bin aidreams_tok512.bin
tiny-gguf       llama-2-tiny-random.gguf
vocab-gguf      ggml-vocab-llama-spm.gguf
test            stories260K.bin tokenizer.bin tokenizer.model aidreams260K.bin aidreams_tok512.bin llama-2-tiny-random.gguf ggml-vocab-llama-spm.gguf
"

readonly PROG=download.sh

usage() {
  cat <<EOF
usage: models/download.sh [-o DIR] NAME...
       models/download.sh --list

Downloads the files of each NAME into DIR (default: the folder of this
script) and checks their size and SHA-256. Files already present are
verified and kept when good.

names: $(names_list)

options:
  -o DIR   put the files in DIR (created if missing)
  --list   print every name with its files, sizes, digests and sources
  -h       this help

environment:
  LLAMA2_DOWNLOAD_MIRROR=URL  fetch every file as URL/<file> instead
  LLAMA2_DOWNLOAD_TOOL=curl|wget  force the downloader
EOF
}

die() {
  echo "$PROG: $*" >&2
  exit 2
}

names_list() {
  echo "$NAMES" | awk 'NF { printf "%s%s", sep, $1; sep = " " } END { print "" }'
}

# Prints the files of name $1, or nothing if it is unknown.
files_of() {
  echo "$NAMES" | awk -v name="$1" '$1 == name { for (i = 2; i <= NF; i++) print $i }'
}

# Prints "size digests url" of file $1.
entry_of() {
  echo "$FILES" | awk -v file="$1" '$1 == file { print $2, $3, $4 }'
}

list() {
  local name file size digests url
  printf '%-16s %-26s %10s  %-64s  %s\n' NAME FILE BYTES SHA256 SOURCE
  while read -r name; do
    for file in $(files_of "$name"); do
      read -r size digests url <<<"$(entry_of "$file")"
      printf '%-16s %-26s %10s  %-64s  %s\n' "$name" "$file" "$size" "${digests%%,*}" "$url"
      # further accepted digests, one line each
      local rest=${digests#*,}
      while [ "$rest" != "$digests" ] && [ -n "$rest" ]; do
        printf '%-16s %-26s %10s  %-64s  %s\n' "" "" "" "${rest%%,*}" "(also accepted)"
        digests=$rest
        rest=${rest#*,}
      done
    done
  done < <(echo "$NAMES" | awk 'NF { print $1 }')
}

# --- checking -----------------------------------------------------------------------
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{ print $1 }'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{ print $1 }'
  else
    die "need sha256sum or shasum to check downloads"
  fi
}

size_of() {
  wc -c <"$1" | tr -d ' '
}

# Checks file $1 (shown as $2) against size $3 and digests $4. Prints what is
# wrong and returns 1 if it does not match.
check() {
  local path=$1 file=$2 size=$3 digests=$4 actual
  actual=$(size_of "$path")
  if [ "$actual" != "$size" ]; then
    echo "$file: size is $actual bytes, expected $size" >&2
    return 1
  fi
  actual=$(sha256_of "$path")
  case ",$digests," in
    *",$actual,"*) return 0 ;;
  esac
  echo "$file: SHA-256 is $actual, expected ${digests//,/ or }" >&2
  return 1
}

# --- downloading --------------------------------------------------------------------
downloader() {
  local tool=${LLAMA2_DOWNLOAD_TOOL:-}
  if [ -z "$tool" ]; then
    if command -v curl >/dev/null 2>&1; then
      tool=curl
    elif command -v wget >/dev/null 2>&1; then
      tool=wget
    else
      die "need curl or wget to download"
    fi
  fi
  case $tool in
    curl | wget) command -v "$tool" >/dev/null 2>&1 || die "LLAMA2_DOWNLOAD_TOOL=$tool is not installed" ;;
    *) die "LLAMA2_DOWNLOAD_TOOL=$tool: expected curl or wget" ;;
  esac
  echo "$tool"
}

# Fetches URL $1 into $2.
fetch() {
  local url=$1 out=$2
  if [ "$TOOL" = curl ]; then
    local progress=-sS
    [ -t 2 ] && progress=-#
    curl -fL --retry 2 --connect-timeout 30 "$progress" -o "$out" "$url"
  else
    wget -q -O "$out" "$url"
  fi
}

# Makes sure $OUT_DIR/$1 is present and good. Returns 1 if it cannot.
get() {
  local file=$1 size digests url entry path part
  entry=$(entry_of "$file")
  read -r size digests url <<<"$entry"
  path=$OUT_DIR/$file
  if [ -e "$path" ]; then
    if check "$path" "$path" "$size" "$digests"; then
      echo "ok      $path (already present, verified)"
      return 0
    fi
    echo "$PROG: $path is not the expected file; downloading it again" >&2
  fi
  if [ -n "${LLAMA2_DOWNLOAD_MIRROR:-}" ]; then
    url=${LLAMA2_DOWNLOAD_MIRROR%/}/$file
  fi
  part=$path.part
  CURRENT_PART=$part
  echo "get     $file <- $url"
  if ! fetch "$url" "$part"; then
    rm -f "$part"
    echo "$PROG: $file: download from $url failed" >&2
    return 1
  fi
  if ! check "$part" "$file" "$size" "$digests"; then
    rm -f "$part"
    echo "$PROG: refused $file from $url (deleted; the download is corrupt or the source changed)" >&2
    return 1
  fi
  mv -f "$part" "$path"
  CURRENT_PART=
  echo "ok      $path (downloaded, verified)"
}

# --- main ---------------------------------------------------------------------------
OUT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REQUESTED=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --list) list; exit 0 ;;
    -o)
      [ $# -ge 2 ] || die "-o needs a folder"
      OUT_DIR=$2
      shift 2
      ;;
    -*) die "unknown option $1 (try -h)" ;;
    *)
      [ -n "$(files_of "$1")" ] || die "unknown name '$1'; known names: $(names_list)"
      REQUESTED+=("$1")
      shift
      ;;
  esac
done
[ ${#REQUESTED[@]} -gt 0 ] || { usage >&2; exit 2; }

mkdir -p "$OUT_DIR"
TOOL=$(downloader)
readonly TOOL OUT_DIR

# An interrupted download leaves no .part file behind.
CURRENT_PART=
trap '[ -z "$CURRENT_PART" ] || rm -f "$CURRENT_PART"' EXIT
trap 'exit 130' INT TERM

failed=()
for name in "${REQUESTED[@]}"; do
  for file in $(files_of "$name"); do
    get "$file" || failed+=("$file")
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "$PROG: failed: ${failed[*]}" >&2
  exit 1
fi
