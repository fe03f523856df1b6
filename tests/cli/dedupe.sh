#!/usr/bin/env bash
# CLI test (CTest "dedupe"): `ursa dedupe` on a small dataset made with Pillow: distinct
# photo-like images, an exact byte copy, a resized and recompressed copy, the same photo
# under two labels (train/teddy and valid/grizzly) and a corrupt file; then --move, a
# second run, and the refusals.
# usage: bash tests/cli/dedupe.sh URSA_BIN WORKDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
begin_test "$@"
absent() { [ ! -e "$1" ] || { echo "  $1 exists"; return 1; }; }
# json_is FILE PYTHON_EXPR EXPECTED: the expression over `j` (the parsed file) prints EXPECTED
json_is() {
  local got
  got=$("$py" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>&1)
  [ "$got" = "$3" ] || { echo "  $1: $2 is '$got', expected '$3'"; return 1; }
}
# every file under a folder with its sha256, sorted by path
listing() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# --- the dataset ----------------------------------------------------------------------------
"$py" - data <<'PY'
import os, shutil, sys
import numpy as np
from PIL import Image, ImageDraw

root = sys.argv[1]

def photo(seed, w=320, h=240):
    """Smooth colour fields, a few shapes and grain: distinct pHashes for distinct seeds."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray((rng.random((5, 7, 3)) * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    d = ImageDraw.Draw(img)
    for _ in range(5):
        x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        s = int(rng.integers(30, 90))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x, y, x + s, y + s * 3 // 4], fill=fill)
    a = np.asarray(img).astype(np.float32) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

def save(img, rel, **kw):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img.save(path, **kw)

save(photo(1), "train/grizzly/g1.jpg", quality=92)
save(photo(2), "train/grizzly/g2.jpg", quality=92)
save(photo(3), "train/grizzly/g3.png")
save(photo(4, 400, 300), "train/black/b1.jpg", quality=95)
save(photo(5), "train/black/b2.jpg", quality=92)
save(photo(6), "train/teddy/t1.jpg", quality=92)
save(photo(7), "train/teddy/t2.jpg", quality=92)
# an exact byte copy in the same label
shutil.copyfile(os.path.join(root, "train/grizzly/g1.jpg"), os.path.join(root, "train/grizzly/g1 copy.jpg"))
# a resized, recompressed copy (in the other split)
b1 = Image.open(os.path.join(root, "train/black/b1.jpg"))
save(b1.resize((200, 150), Image.BILINEAR), "valid/black/b1 small.jpg", quality=60)
# the same photo under another label
os.makedirs(os.path.join(root, "valid/grizzly"), exist_ok=True)
shutil.copyfile(os.path.join(root, "train/teddy/t2.jpg"), os.path.join(root, "valid/grizzly/t2.jpg"))
# a corrupt file and a hidden folder (skipped)
with open(os.path.join(root, "train/teddy/broken.jpg"), "wb") as f:
    f.write(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)
shutil.copyfile(os.path.join(root, "train/teddy/t1.jpg"), os.path.join(root, "train/teddy/.t1 hidden.jpg"))
PY
[ -f data/train/teddy/broken.jpg ] || { echo "FAIL could not make the dataset"; exit 1; }
listing data >before.txt

# --- help and usage errors -----------------------------------------------------------------
run help 0 "$ursa" dedupe --help
check "--help lists every option" bash -c 'for f in --threshold --exact-only --move --json --report --threads --max-pixels; do grep -q -- "$f" help.out || exit 1; done'
check "--help says nothing is deleted and names ursa clean for conflicts" \
  bash -c 'grep -q "Nothing is ever deleted" help.out && grep -q "ursa clean" help.out'
run no_folder 2 "$ursa" dedupe nowhere
check "a missing DATA is named" contains no_folder.err "nowhere is not a folder"
mkdir empty
run no_images 2 "$ursa" dedupe empty
check "a folder without images is explained" contains no_images.err "no image files"
run bad_threshold 2 "$ursa" dedupe data --threshold 65
run negative_threshold 2 "$ursa" dedupe data --threshold -1

# --- the JSON report -------------------------------------------------------------------------
run report 1 "$ursa" dedupe data --json --report report.json
check "--json prints the same JSON as --report writes" cmp -s report.out report.json
check "the report's header" json_is report.out '(j["version"], j["data"], j["threshold"], j["files"])' "(1, 'data', 4, 11)"
check "three groups, ordered by their first file" json_is report.out '[g["kind"] for g in j["groups"]]' "['near', 'exact', 'exact']"
check "the resized copy: a near group that keeps the larger" json_is report.out \
  '(j["groups"][0]["keep"], j["groups"][0]["extra"], j["groups"][0]["labels"], j["groups"][0]["conflict"])' \
  "(['train/black/b1.jpg'], ['valid/black/b1 small.jpg'], ['black'], False)"
check "the resized copy is a few bits away" json_is report.out '0 <= j["groups"][0]["distance"] <= 4' "True"
check "the byte copy: an exact group that keeps the first path" json_is report.out \
  '(j["groups"][1]["keep"], j["groups"][1]["extra"], j["groups"][1]["conflict"], j["groups"][1]["distance"])' \
  "(['train/grizzly/g1 copy.jpg'], ['train/grizzly/g1.jpg'], False, 0)"
check "the photo under two labels: a conflict that keeps one copy per label" json_is report.out \
  '(j["groups"][2]["labels"], j["groups"][2]["keep"], j["groups"][2]["extra"], j["groups"][2]["conflict"])' \
  "(['grizzly', 'teddy'], ['train/teddy/t2.jpg', 'valid/grizzly/t2.jpg'], [], True)"
check "the corrupt file is reported with a reason" json_is report.out \
  '[(f["file"], len(f["error"]) > 0) for f in j["failed"]]' "[('train/teddy/broken.jpg', True)]"
check "the corrupt file is named on stderr" contains report.err "broken.jpg"
check "the hidden file is not read" lacks report.out "hidden"

run one_thread 1 "$ursa" dedupe data --json --threads 1
check "one thread gives the same report" cmp -s report.out one_thread.out

# --- the readable summary --------------------------------------------------------------------
run summary 1 "$ursa" dedupe data
check "summary: the counts" contains summary.out "data: 11 images, 3 duplicate groups (2 exact, 1 near within 4 bits), 1 conflict, 2 extra copies, 1 failed"
check "summary: kept and extra files" bash -c 'grep -q "keep  *train/black/b1.jpg  (400x300" summary.out && grep -q "extra *valid/black/b1 small.jpg  (200x150" summary.out'
check "summary: the conflict says what to do" \
  bash -c 'grep -q "^CONFLICT group 3: exact" summary.out && grep -q "ursa clean" summary.out'
check "summary: how to move the extras" contains summary.out "--move DIR"

# --- --exact-only: bytes only -----------------------------------------------------------------
run exact_only 0 "$ursa" dedupe data --exact-only --json
check "--exact-only: the two exact groups only" json_is exact_only.out '[g["keep"] + g["extra"] for g in j["groups"]]' \
  "[['train/grizzly/g1 copy.jpg', 'train/grizzly/g1.jpg'], ['train/teddy/t2.jpg', 'valid/grizzly/t2.jpg']]"
run threshold0 1 "$ursa" dedupe data --json --threshold 0
check "--threshold 0 still finds the exact copies" json_is threshold0.out '[g["kind"] for g in j["groups"]][-2:]' "['exact', 'exact']"

# --- --move refusals: nothing moves -------------------------------------------------------------
run move_inside 2 "$ursa" dedupe data --move data/duplicates
check "--move inside DATA is refused with the reason" contains move_inside.err "inside data"
run move_data 2 "$ursa" dedupe data --move data/
check "--move DATA itself is refused" contains move_data.err "itself"
listing data >after_refused.txt
check "the refusals changed nothing" cmp -s before.txt after_refused.txt
check "the refusals made no folder" absent data/duplicates

# --- --move: exactly the extras go, everything else stays byte for byte -------------------------
run move 1 "$ursa" dedupe data --move moved
check "move: the two extras are in DIR at their paths in DATA" \
  bash -c '[ "$(cd moved && find . -type f ! -name dedupe-moves.json | sort | tr "\n" "|")" = "./train/grizzly/g1.jpg|./valid/black/b1 small.jpg|" ]'
check "move: the moved files are byte-identical" \
  bash -c 'cmp -s data/train/grizzly/"g1 copy.jpg" moved/train/grizzly/g1.jpg && [ "$(sha256sum <moved/valid/black/"b1 small.jpg" | cut -c1-64)" = "$(grep "valid/black/b1 small.jpg" before.txt | cut -c1-64)" ]'
grep -v -e "/train/grizzly/g1.jpg$" -e "/valid/black/b1 small.jpg$" before.txt >expected_after.txt
listing data >after_move.txt
check "move: every other file of DATA is untouched" cmp -s expected_after.txt after_move.txt
check "move: each move is printed" \
  bash -c 'grep -q "^moved data/train/grizzly/g1.jpg -> moved/train/grizzly/g1.jpg$" move.out && [ "$(grep -c "^moved " move.out)" -eq 2 ]'
check "move: dedupe-moves.json lists from and to" json_is moved/dedupe-moves.json \
  '[(m["to"].endswith("/moved/train/grizzly/g1.jpg"), m["state"]) for m in j["moves"] if m["from"].endswith("/data/train/grizzly/g1.jpg")] + [len(j["moves"])]' \
  "[(True, 'moved'), 2]"

# --- a second run: only the conflict is left -----------------------------------------------------
run again 1 "$ursa" dedupe data --json
check "again: only the conflict group is left" json_is again.out '[(g["conflict"], g["extra"]) for g in j["groups"]]' "[(True, [])]"
check "again: the files left" json_is again.out 'j["files"]' "9"
run again_move 1 "$ursa" dedupe data --move moved
check "again: nothing to move" contains again_move.out "no extra copies to move"

# --- moving never overwrites: a second copy goes next to the first ------------------------------
cp "data/train/grizzly/g1 copy.jpg" data/train/grizzly/g1.jpg
run move_twice 1 "$ursa" dedupe data --move moved
check "a name already taken in DIR gets ' (2)'" \
  bash -c 'cmp -s "moved/train/grizzly/g1 (2).jpg" "data/train/grizzly/g1 copy.jpg" && [ -f moved/train/grizzly/g1.jpg ]'
check "the earlier list of moves is kept, the new one beside it" \
  json_is "moved/dedupe-moves (2).json" '[m["to"].rsplit("/", 1)[-1] for m in j["moves"]]' "['g1 (2).jpg']"
check "the earlier list still has its two moves" json_is moved/dedupe-moves.json 'len(j["moves"])' "2"

# --- a hidden folder inside DATA is allowed -------------------------------------------------------
cp "data/train/grizzly/g1 copy.jpg" data/train/grizzly/g1.jpg
run move_hidden 1 "$ursa" dedupe data --move data/.duplicates
check "--move into a hidden folder of DATA works" test -f data/.duplicates/train/grizzly/g1.jpg
run after_hidden 1 "$ursa" dedupe data --json
check "the hidden folder is not read as data" json_is after_hidden.out 'j["files"]' "9"

echo "dedupe: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
