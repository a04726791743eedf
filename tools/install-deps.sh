#!/usr/bin/env bash
# Installs the Debian 12 packages infinode builds and tests with, if any are missing.
# Idempotent and silent when everything is already there. CUDA is optional: the CUDA toolkit
# is not a Debian package we install; when nvcc is present the CUDA backend is built too.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev        # BLAS for the CPU backend's GEMM
  nlohmann-json3-dev     # safetensors headers, index files
  libgtest-dev           # unit tests
  libopenimageio-dev     # image files in and out (core/image)
  libsentencepiece-dev   # the T5 tokenizer (core/text)
  sentencepiece          # spm_train / spm_encode: tools/make_text_fixtures.py
)
if [ "${INF_WITH_FUZZ:-0}" = 1 ]; then packages+=(clang libclang-rt-14-dev); fi
if [ "${INF_WITH_TORCH:-0}" = 1 ]; then packages+=(python3-torch python3-numpy); fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
