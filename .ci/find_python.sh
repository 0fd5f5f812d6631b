# Sourced by .ci/pythons and .ci/lowest.
find_python() {  # a working python3.X: the newest pyenv build of 3.X, else one on PATH
  local v=$1 root=${PYENV_ROOT:-$HOME/.pyenv} candidate
  for candidate in $(ls -d "$root"/versions/"$v".*/bin/python 2>/dev/null | sort -rV) \
                   "$(command -v "python$v" 2>/dev/null || true)"; do
    # (a pyenv shim is on PATH even where that version is not enabled: it must run)
    if [ -n "$candidate" ] && "$candidate" -c 'import sys' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Python $v not found: install it (e.g. pyenv install $v)" >&2
  return 1
}
