#!/usr/bin/env bash
# CLI end-to-end test (CTest "cli"): a tiny real dataset through train → export →
# predict, with bad files, bad flags and a model without metadata.
# usage: bash tests/cli/run.sh URSA_BIN WORKDIR
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: bash tests/cli/run.sh URSA_BIN WORKDIR" >&2; exit 2; }
ursa=$(realpath "$1")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3
rm -rf "$2" && mkdir -p "$2" && work=$(realpath "$2")
cd "$work"

source "$here/lib.sh"

"$py" "$here/make_data.py" data

# --- train: bad files are reported with path and reason, skipped, exit 1 ------------
run train 1 "$ursa" train data --arch resnet18 --size 32 --epochs 2 --bs 8 --valid-pct 0.25 --seed 3 --out run
check "train reports the truncated file with a reason" contains train.err "data/red/corrupt.jpg: corrupt jpeg"
check "train reports the text file as not an image" contains train.err "data/green/notes.jpg: not an image"
check "train skips hidden files silently" lacks train.err ".hidden.jpg"
check "train prints the per-epoch table header" grep -qE "^epoch +train_loss +valid_loss +error_rate +time" train.out
check "train prints one row per epoch" test "$(grep -cE '^[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]{2}:[0-9]{2}$' train.out)" -eq 2
check "train counts 50 files, 12 for validation (int(0.25*50))" contains train.out "3 labels, 38 train / 12 valid"
check "run has weights" test -s run/model.safetensors
check "labels.txt is the sorted vocabulary" test "$(cat run/labels.txt)" = "$(printf 'blue\ngreen\nred')"
check "history.csv has the contract's columns" test "$(head -n1 run/history.csv)" = "epoch,train_loss,valid_loss,error_rate,time"
check "history.csv has a row per epoch" test "$(wc -l < run/history.csv)" -eq 3
check "skipped.csv lists both bad files" test "$(grep -c 'corrupt.jpg\|notes.jpg' run/skipped.csv)" -eq 2
check "train's closing report counts the skipped files" contains train.out "2 file(s) could not be used and were skipped: run/skipped.csv lists them"
check "no temporary files are left" test -z "$(find run -name '*.tmp-*')"
# --precision auto (the default): bf16 autocast where /proc/cpuinfo lists native bf16
# (avx512_bf16 or amx_bf16), fp32 elsewhere; saved with the run.
if grep -m1 '^flags' /proc/cpuinfo | grep -qwE 'avx512_bf16|amx_bf16'; then native=bf16; else native=fp32; fi
if [ $native = bf16 ]; then
  check "train on this CPU with native bf16 defaults to bf16 autocast" contains train.out "precision: bf16 autocast"
  check "the run's options say bf16" grep -q '"bf16": true' run/options.json
  check "the run's options keep the matmul convolutions" grep -q '"matmul_convs": true' run/options.json
else
  check "train on this CPU without native bf16 defaults to fp32" contains train.out "precision: fp32"
  check "the run's options say fp32" grep -q '"bf16": false' run/options.json
fi
# Matmul convolutions in fp32 only where libtorch's fp32 matmul reaches a fast BLAS: the
# OpenBLAS that tools/setup.sh installs as the system libblas.so.3 (or MKL; this libtorch has none).
if readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; then fast_blas=true; else fast_blas=false; fi
if [ $native = fp32 ] && [ $fast_blas = true ]; then
  check "an fp32 run on OpenBLAS keeps the matmul convolutions" grep -q '"matmul_convs": true' run/options.json
  check "and says so" contains train.out "precision: fp32; convolutions on small maps as matrix products"
elif [ $native = fp32 ]; then
  check "an fp32 run on a slow BLAS has no matmul convolutions" grep -q '"matmul_convs": false' run/options.json
  check "and says plain fp32" grep -qE "^precision: fp32$" train.out
fi

# --- the same seed gives the same split and the same first epoch ----------------------
# (with --tta, which only adds a validation pass after the last epoch)
run train_again 1 "$ursa" train data --arch resnet18 --size 32 --epochs 2 --bs 8 --valid-pct 0.25 --seed 3 --tta --out run2
check "same seed, same history" test "$(cut -d, -f1-4 run/history.csv)" = "$(cut -d, -f1-4 run2/history.csv)"
check "--tta prints its validation after the table" grep -qE '^tta \(mean of each picture and its mirror\): valid_loss [0-9.]+ error_rate [0-9.]+$' train_again.out
check "--tta's error rate is saved in history.json" grep -q '"tta_error_rate"' run2/history.json
check "a run without --tta has none" lacks run/history.json "tta_error_rate"

# --- fine_tune from pretrained weights (the first run's body), and resume after kill -9 ---
ft_flags=(data --arch resnet18 --size 32 --epochs 3 --bs 8 --valid-pct 0.25 --seed 3 --pretrained run/model.safetensors)
run fine_tune 1 "$ursa" train "${ft_flags[@]}" --out ft_full
check "fine_tune loads the body" contains fine_tune.out "body weights from run/model.safetensors"
check "fine_tune prints a frozen and an unfrozen table, as fastai" test "$(grep -cE '^epoch +train_loss' fine_tune.out)" -eq 2
check "the frozen phase runs at [2e-4, 2e-4, 2e-3]" contains fine_tune.out "frozen: 1 epoch, body frozen except BatchNorm, learning rates 0.0002 / 0.0002 / 0.002"
check "the unfrozen phase runs at [1e-5, 1e-4, 1e-3]" contains fine_tune.out "unfrozen: 3 epochs, every layer, learning rates 1e-05 / 0.0001 / 0.001"
check "history.csv has 1 + 3 epochs" test "$(wc -l < ft_full/history.csv)" -eq 5
check "history.json names the phases" test "$(grep -c '"phase": "frozen"' ft_full/history.json)" -eq 1
check "a checkpoint is written" test -s ft_full/checkpoint.safetensors
# Kill the same run with SIGKILL once its first checkpoint is on disk, then resume.
"$ursa" train "${ft_flags[@]}" --out ft_crash >ft_crash.out 2>ft_crash.err &
pid=$!
for _ in $(seq 1 3000); do [ -e ft_crash/checkpoint.safetensors ] && break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "the run was killed before it finished" test ! -e ft_crash/config.json
run resume 1 "$ursa" train --resume ft_crash
check "resume says where it goes on" grep -qE "^[1-3] of 4 epochs were done" resume.out
check "the resumed run ends with the same weights, bit for bit" cmp -s ft_full/model.safetensors ft_crash/model.safetensors
check "the resumed run has the same history" test "$(cut -d, -f1-4 ft_full/history.csv)" = "$(cut -d, -f1-4 ft_crash/history.csv)"
run resume_done 1 "$ursa" train data --out ft_crash --resume
check "resuming a finished run (--out RUN --resume) trains nothing more" contains resume_done.out "4 of 4 epochs were done"
run resume_missing 2 "$ursa" train --resume data
check "resuming a folder without a checkpoint names the file" contains resume_missing.err "data/checkpoint.safetensors does not exist"
run train_no_out 2 "$ursa" train data
check "train without --out or --resume names what is missing" contains train_no_out.err "--out"
if /usr/bin/python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "info: this machine has CUDA; the no-CUDA error is not checked"
else
  run no_cuda 2 "$ursa" train data --arch small --size 32 --epochs 1 --bs 8 --device cuda --out x
  check "--device cuda without CUDA says so" contains no_cuda.err "--device cuda: this libtorch sees no CUDA GPU"
fi
run small_pretrained 2 "$ursa" train data --arch small --size 32 --epochs 1 --bs 8 --pretrained ft_full/model.safetensors --out x
check "resnet18 weights do not fit --arch small, and the error says why" contains small_pretrained.err "3x3"

# --- lr-find: the sweep, the valley suggestion and the plot ---------------------------------
run lr_find 1 "$ursa" lr-find data --arch resnet18 --size 32 --bs 8 --valid-pct 0.25 --seed 3 --num-it 40 --no-stop-div --plot lr.svg --precision fp32
check "--precision fp32 is used whatever the CPU" contains lr_find.out "precision: fp32"
run lr_find_fp32_onednn 1 "$ursa" lr-find data --arch small --size 32 --bs 8 --valid-pct 0.25 --seed 3 --num-it 12 --no-stop-div --precision fp32 --no-matmul-convs
check "--no-matmul-convs under fp32: plain fp32, every convolution to oneDNN" grep -qE "^precision: fp32$" lr_find_fp32_onednn.out
check "lr-find runs all 40 iterations" contains lr_find.out "40 iterations"
# --fp32-blocks: residual blocks kept in fp32 under bf16 (a list, or timed).
run lr_find_blocks 1 "$ursa" lr-find data --arch small --size 32 --bs 8 --valid-pct 0.25 --seed 3 --num-it 12 --no-stop-div --precision bf16 --fp32-blocks layer4.0,layer3.0
check "--fp32-blocks LIST: the blocks named are said to run in fp32" contains lr_find_blocks.out "precision: bf16 autocast, fp32 in layer4.0, layer3.0"
run lr_find_timed 1 "$ursa" lr-find data --arch small --size 32 --bs 8 --valid-pct 0.25 --seed 3 --num-it 12 --no-stop-div --precision bf16 --fp32-blocks timed
check "--fp32-blocks timed prints each block's two timings" grep -qE "each block timed both ways, ms bf16 / fp32: layer1.0 [0-9.]+ / [0-9.]+, layer2.0 .*layer4.0 [0-9.]+ / [0-9.]+\)$" lr_find_timed.out
check "bf16 runs the small-map convolutions as matmuls by default, and says so" contains lr_find_blocks.out "; convolutions on small maps as matrix products"
run lr_find_onednn 1 "$ursa" lr-find data --arch small --size 32 --bs 8 --valid-pct 0.25 --seed 3 --num-it 12 --no-stop-div --precision bf16 --no-matmul-convs
check "--no-matmul-convs leaves every convolution to oneDNN" grep -qE "^precision: bf16 autocast$" lr_find_onednn.out
run fp32_blocks_bad 2 "$ursa" lr-find data --arch small --size 32 --bs 8 --valid-pct 0.25 --num-it 5 --precision bf16 --fp32-blocks layer9.0
check "an unknown block in --fp32-blocks is refused with its name" contains fp32_blocks_bad.err "no block 'layer9.0'"
run fp32_blocks_noop 1 "$ursa" lr-find data --arch small --size 32 --bs 8 --valid-pct 0.25 --num-it 12 --no-stop-div --precision fp32 --fp32-blocks layer4.0
check "--fp32-blocks under fp32 says it does nothing" contains fp32_blocks_noop.err "--fp32-blocks applies to bf16 autocast on a CPU; this run is fp32"
check "lr-find suggests a valley between the start and the end" grep -qE "^valley: [0-9.]+e-0[1-7] \(loss [0-9.]+\)$" lr_find.out
check "lr-find writes an SVG with the curve and the valley" grep -q 'class="valley"' lr.svg
check "lr-find's SVG is well-formed XML" "$py" -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" lr.svg
run lr_find_bad 2 "$ursa" lr-find data --start-lr 1 --end-lr 0.1
check "lr-find refuses an end below the start" contains lr_find_bad.err "--start-lr < --end-lr"

# --- interpret: confusion matrix, most confused, top losses, the HTML report -------------
run interpret_run 1 "$ursa" interpret ft_full --top-k 4 -o report.html
check "interpret names the unreadable validation file, and goes on" contains interpret_run.err "skipped data/green/notes.jpg: not an image"
check "interpret rebuilds the run's split (12 valid, 1 unreadable)" contains interpret_run.out "11 valid images"
check "interpret prints the confusion matrix" contains interpret_run.out "confusion matrix (rows actual, columns predicted)"
check "interpret writes the report" test -s report.html
"$py" - report.html interpret_run.out >interpret_check.out 2>&1 <<'PY'
import re, sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.cells = []; self.rows = []; self.figs = []; self.ids = {}; self.cur = None; self.text = ""
        self.table = None; self.mc = []; self.row = None; self.imgs = 0; self.external = []
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "table": self.table = a.get("id")
        if tag == "tr" and self.table == "confusion": self.row = []; self.rows.append(self.row)
        if tag == "tr" and self.table == "most-confused": self.row = []; self.mc.append(self.row)
        if tag == "td" and self.table == "confusion": self.row.append(int(a["data-count"]))
        if tag == "td" and self.table == "most-confused": self.cur = "mc"; self.text = ""
        if tag == "figure": self.figs.append(a.get("data-file"))
        if tag == "img":
            self.imgs += 1
            if not a["src"].startswith("data:image/png;base64,"): self.external.append(a["src"])
        if tag == "span": self.cur = a.get("id"); self.text = ""
    def handle_data(self, d):
        if self.cur: self.text += d
    def handle_endtag(self, tag):
        if tag == "span" and self.cur: self.ids[self.cur] = self.text; self.cur = None
        if tag == "td" and self.cur == "mc": self.row.append(self.text); self.cur = None
        if tag == "table": self.table = None
p = P(); p.feed(open(sys.argv[1]).read())
cm = [r for r in p.rows if r]
n = int(p.ids["count"]); wrong = int(p.ids["wrong"])
assert len(cm) == 3 and all(len(r) == 3 for r in cm), cm
assert sum(map(sum, cm)) == n, (cm, n)
assert n - sum(cm[i][i] for i in range(3)) == wrong, (cm, wrong)
labels = ["blue", "green", "red"]
for row in [r for r in p.mc if r]:
    a, b, c = labels.index(row[0]), labels.index(row[1]), int(row[2])
    assert cm[a][b] == c and a != b, (row, cm)
assert len(p.figs) == min(4, n) and p.imgs == len(p.figs) and not p.external, (p.figs, p.external)
text = open(sys.argv[2]).read()
assert f"{n} valid images, {wrong} wrong" in text, text
assert "<svg" in open(sys.argv[1]).read()
print("report ok", n, wrong)
PY
check "the report's matrix, most-confused pairs, counts and top losses agree (self-contained)" grep -q "report ok" interpret_check.out || cat interpret_check.out
run interpret_missing 2 "$ursa" interpret ft_full --data nowhere
check "interpret names a missing dataset folder" contains interpret_missing.err "nowhere"

# --- export ------------------------------------------------------------------------------
run export 0 "$ursa" export run -o model.onnx
"$py" - model.onnx >onnx_check.out 2>&1 <<'PY'
import json, sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
meta = {p.key: p.value for p in m.metadata_props}
assert json.loads(meta["ursa.labels"]) == ["blue", "green", "red"], meta
inp = json.loads(meta["ursa.input"])
assert inp["size"] == [32, 32] and inp["resize"] == "crop", inp
assert inp["mean"] == [0.485, 0.456, 0.406] and inp["std"] == [0.229, 0.224, 0.225], inp
assert json.loads(meta["ursa.arch"]) == "resnet18" and json.loads(meta["ursa.version"])
assert 0 <= json.loads(meta["ursa.valid_error"]) <= 1
assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [13]
i, = m.graph.input; o, = m.graph.output
assert i.name == "image" and o.name == "logits"
dims = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
assert dims == ["batch", 3, 32, 32], dims
assert [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] == ["batch", 3]
ops = {n.op_type for n in m.graph.node}
assert "BatchNormalization" not in ops, ops
print("onnx ok", sorted(ops))
PY
check "exported model passes the ONNX checker with the metadata contract" grep -q "onnx ok" onnx_check.out || cat onnx_check.out

# --- the pad mode travels from train through export into the metadata --------------------
# (its labels and split come from a CSV: every 4th file validates)
{ echo "file,label,is_valid"; find data -type f \( -name '*.jpg' -o -name '*.PNG' -o -name '*.png' \) ! -name '.*' | sort |
  awk -F/ '{ printf "%s,%s,%d\n", substr($0, 6), $2, (NR % 4 == 0) }'; } >labels.csv
run train_pad 1 "$ursa" train data --csv labels.csv --arch small --size 32 --epochs 1 --bs 8 --seed 3 \
  --resize-method pad --pad-mode reflection --out run_pad
check "train --csv takes labels and split from the CSV" contains train_pad.out "3 labels, 38 train / 12 valid"
run export_pad 0 "$ursa" export run_pad -o pad.onnx
"$py" -c 'import json, sys, onnx; m = onnx.load(sys.argv[1]); print(json.loads({p.key: p.value for p in m.metadata_props}["ursa.input"]))' \
  pad.onnx >pad_meta.out 2>&1
check "ursa.input names resize pad and pad_mode reflection" grep -q "'resize': 'pad', 'pad_mode': 'reflection'" pad_meta.out
run predict_pad 0 "$ursa" predict pad.onnx data/red/red_00.PNG --json
check "a pad/reflection model predicts" contains predict_pad.out '"label":'

# --- predict -----------------------------------------------------------------------------
run predict_json 1 "$ursa" predict model.onnx data/red/red_00.PNG data/blue/blue_03.jpg data/red/corrupt.jpg missing.jpg --json --top 3
"$py" - predict_json.out >predict_check.out 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert [e["file"] for e in r] == ["data/red/red_00.PNG", "data/blue/blue_03.jpg", "data/red/corrupt.jpg", "missing.jpg"]
for e in r[:2]:
    assert e["label"] in ("blue", "green", "red") and 0 < e["prob"] <= 1, e
    assert len(e["top"]) == 3 and e["top"][0] == {"label": e["label"], "prob": e["prob"]}, e
    probs = [t["prob"] for t in e["top"]]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-5, probs
assert "corrupt jpeg" in r[2]["error"] and "label" not in r[2], r[2]
assert "missing.jpg" in r[3]["error"], r[3]
print("predict ok")
PY
check "predict --json follows the contract, errors per file" grep -q "predict ok" predict_check.out || cat predict_check.out
run predict_again 1 "$ursa" predict model.onnx data/red/red_00.PNG data/blue/blue_03.jpg data/red/corrupt.jpg missing.jpg --json --top 3
check "predict is deterministic" cmp -s predict_json.out predict_again.out
run predict_1thread 1 "$ursa" predict model.onnx data/red/red_00.PNG data/blue/blue_03.jpg data/red/corrupt.jpg missing.jpg --json --top 3 --threads 1
check "predict --threads 1 gives the same JSON as all cores" cmp -s predict_json.out predict_1thread.out
check "predict names its thread count" grep -qE 'per file \(read, decode, preprocess, model; 1 thread\)' predict_1thread.err
run predict_bad_threads 2 "$ursa" predict model.onnx data/red/red_00.PNG --threads 65
check "predict --threads 65 is refused" contains predict_bad_threads.err "--threads"
run predict_table 0 "$ursa" predict model.onnx data/green/green_00.PNG --top 2
check "predict prints a table with 2 labels" test "$(grep -cE '^  (blue|green|red) +[01]\.[0-9]{4}$' predict_table.out)" -eq 2
check "predict reports the time per file on stderr" grep -qE '^1 file\(s\) in [0-9.]+ s: [0-9.]+ ms per file' predict_table.err

# --- bad models, bad flags ---------------------------------------------------------------
run predict_no_model 2 "$ursa" predict nope.onnx data/red/red_00.PNG
check "a missing model is named" contains predict_no_model.err "nope.onnx"
"$py" -c 'import onnx, sys; m = onnx.load(sys.argv[1]); del m.metadata_props[:]; onnx.save(m, sys.argv[2])' model.onnx bare.onnx
run predict_bare 2 "$ursa" predict bare.onnx data/red/red_00.PNG
check "a model without metadata names the missing keys" contains predict_bare.err "missing ursa.labels, ursa.input"
run bad_flag 2 "$ursa" train data --out x --bogus
check "an unknown flag is named" contains bad_flag.err "--bogus"
run bad_arch 2 "$ursa" train data --out x --arch vgg
run no_subcommand 2 "$ursa"
run train_missing_data 2 "$ursa" train does-not-exist --out x
check "a missing dataset folder is named" contains train_missing_data.err "does-not-exist"
for sub in import-mnist preprocess train export predict web verify summary show-batch lr-find interpret; do
  run "help_$sub" 0 "$ursa" "$sub" --help
done
run export_no_run 2 "$ursa" export nowhere -o x.onnx
check "export of a missing run says what is missing" contains export_no_run.err "nowhere"

# --- ursa web never replaces a folder it did not make ------------------------------------
mkdir -p precious && echo keep > precious/notes.txt
run web_refuses 2 "$ursa" web --model model.onnx --out precious
check "the user's folder is untouched" test "$(cat precious/notes.txt)" = keep

# --- preprocess writes exactly Pillow's pixels (fastai crop / pad / squish) ------------
for variant in crop squish pad:zeros pad:border pad:reflection; do
  method=${variant%%:*} pad=${variant#*:}
  [ "$pad" = "$variant" ] && pad=zeros
  run "preprocess_${method}_$pad" 0 "$ursa" preprocess "$repo/tests/fixtures/src_160x120.png" --size 24 \
    --method "$method" --pad-mode "$pad" -o "pre_${method}_$pad.png"
  "$py" - "$repo/tests/fixtures" "$method" "$pad" "pre_${method}_$pad.png" >"pre_${method}_$pad.check" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from PIL import Image
from make_fixtures import fit
ref = fit(Image.open(sys.argv[1] + "/src_160x120.png").convert("RGB"), 24, 24, sys.argv[2], pad_mode=sys.argv[3])
out = Image.open(sys.argv[4]).convert("RGB")
assert out.size == (24, 24) and out.tobytes() == ref.tobytes(), "differs from Pillow"
print("same as Pillow")
PY
  check "preprocess --method $method --pad-mode $pad equals Pillow" grep -q "same as Pillow" "pre_${method}_$pad.check"
done
run preprocess_bad_pad 2 "$ursa" preprocess "$repo/tests/fixtures/src_160x120.png" --pad-mode mirror -o x.png
check "an unknown --pad-mode is a usage error naming the choices" contains preprocess_bad_pad.err "reflection"

# --- import-mnist -----------------------------------------------------------------------
run import_mnist 0 "$ursa" import-mnist --out fmnist --per-class 2
check "import-mnist writes 10 labelled folders per split" test "$(ls fmnist/train | wc -l)" -eq 10 -a "$(ls fmnist/valid | wc -l)" -eq 10
check "import-mnist keeps 2 per class" test "$(find fmnist -name '*.png' | wc -l)" -eq 40
check "import-mnist uses file-system-safe names" test -d fmnist/train/T-shirt_top -a -d fmnist/valid/Ankle_boot

# --- summary: one item through the pipeline -------------------------------------------
run summary 0 "$ursa" summary data --size 32 --seed 3 --valid-pct 0.25 --item 0
check "summary shows the split like train does" contains summary.out "3 labels, 38 train / 12 valid images (random split"
check "summary shows the crop window and the target size" grep -qE "^resize +crop: window [0-9]+ x [0-9]+ at \([0-9]+, [0-9]+\) -> 32 x 32" summary.out
check "summary shows the batch shape" contains summary.out "[64, 3, 32, 32]"
run summary_nozoom 0 "$ursa" summary data --size 32 --seed 3 --valid-pct 0.25 --item 0 --max-zoom 1
check "--max-zoom 1: the example draw does not zoom" contains summary_nozoom.out "zoom 1.000 at"
run summary_erase 0 "$ursa" summary data --size 32 --seed 3 --valid-pct 0.25 --item 0 --no-aug --random-erase 1
check "--random-erase 1: the example draw erases a box, under --no-aug too" grep -qE "^erase +training images with p 1.00.*a [0-9]+ x [0-9]+ box at \([0-9]+, [0-9]+\)" summary_erase.out
check "--no-aug stays off with --random-erase" contains summary_erase.out "augment     off (--no-aug)"
run erase_bad 2 "$ursa" train data --random-erase 1.5 --out x
check "--random-erase above 1 is refused with the flag's name" contains erase_bad.err "--random-erase"
# Progressive resizing: the first epoch on batches shrunk to 16 px, then 32.
run progressive 1 "$ursa" train data --arch small --size 32 --epochs 2 --bs 8 --valid-pct 0.25 --seed 3 --start-size 16 --start-epochs 1 --out prog
check "--start-size/--start-epochs print the plan" contains progressive.out "progressive resizing: epoch 0 at 16 px, then 32 px"
check "a progressive run trains every epoch" test "$(grep -cE '^[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]{2}:[0-9]{2}$' progressive.out)" -eq 2
check "the run's options keep the start size and epochs" grep -qzE '"start_epochs": 1,.*"start_size": 16' prog/options.json
check "a progressive run's model takes --size (the export contract)" sh -c "tr -d ' \\n' < prog/config.json | grep -q '\"size\":\\[32,32\\]'"
run prog_big 2 "$ursa" train data --size 32 --start-size 32 --start-epochs 1 --out x
check "--start-size not below --size is refused with both sizes" contains prog_big.err "--start-size: 32 is not in [16, --size 32)"
run prog_half 2 "$ursa" train data --size 32 --start-size 16 --out x
check "--start-size without --start-epochs is refused" contains prog_half.err "needs --start-epochs"
run prog_all 2 "$ursa" train data --size 32 --epochs 2 --start-size 16 --start-epochs 2 --out x
check "--start-epochs covering the whole run is refused" contains prog_all.err "leaves none of the run's 2 epochs at --size"
run precision_bad 2 "$ursa" train data --precision fp16 --out x
check "an unknown --precision is refused with the flag's name" contains precision_bad.err "--precision"
run max_zoom_bad 2 "$ursa" train data --max-zoom 0.5 --out x
check "--max-zoom below 1 is refused with the flag's name" contains max_zoom_bad.err "--max-zoom"
check "train saves its zoom with the run's options" grep -q '"max_zoom": 1.1' run/options.json
check "train saves its erasing probability with the run's options" grep -q '"random_erase": 0.0' run/options.json
check "train saves its fp32 blocks (none by default) with the run's options" grep -q '"fp32_blocks": \[\]' run/options.json
run summary_range 2 "$ursa" summary data --item 999
# The folder split with other folder names (fastai's GrandparentSplitter(train_name, valid_name)).
mkdir -p renamed/training renamed/holdout
cp -r data/red data/blue renamed/training/ && mkdir -p renamed/holdout/red renamed/holdout/blue
mv renamed/training/red/red_0[0-3].* renamed/holdout/red/ && mv renamed/training/blue/blue_0[0-2].* renamed/holdout/blue/
run summary_folders 0 "$ursa" summary renamed --size 32 --train-folder training --valid-folder holdout
check "--train-folder/--valid-folder name the folder split's folders" \
  contains summary_folders.out "2 labels, 26 train / 7 valid images (folder split"
run summary_nofolder 2 "$ursa" summary renamed --size 32 --split folder
check "--split folder without those folders names what is missing" contains summary_nofolder.err "--split folder needs renamed/train and renamed/valid"
check "an item past the end is named" contains summary_range.err "--item 999"

# --- show-batch: augmented training images with their labels, as a PNG ------------------
run show_batch 0 "$ursa" show-batch data --size 32 --seed 3 -o batch.png
run show_unique 0 "$ursa" show-batch data --size 32 --unique --rows 2 -o unique.png
"$py" - batch.png unique.png >show_check.out 2>&1 <<'PY'
import sys
from PIL import Image
a, b = Image.open(sys.argv[1]).convert("RGB"), Image.open(sys.argv[2]).convert("RGB")
# 3x3 and 2x2 tiles of 128 px (32 px shown enlarged), 8 px gaps, 30 px label rows
assert a.size == (3 * 128 + 4 * 8, 3 * (128 + 30) + 4 * 8), a.size
assert b.size == (2 * 128 + 3 * 8, 2 * (128 + 30) + 3 * 8), b.size
band = a.crop((8, 8 + 128 + 2, 8 + 128, 8 + 128 + 28))  # the first label
assert any(p == (40, 40, 40) for p in band.getdata()), "no label text"
t = [b.crop((8 + k % 2 * 136, 8 + k // 2 * 166, 8 + k % 2 * 136 + 128, 8 + k // 2 * 166 + 128)).tobytes() for k in range(4)]
assert len(set(t)) == 4, "--unique draws should differ"
print("show-batch ok")
PY
check "show-batch writes the labelled grid; --unique shows different draws" grep -q "show-batch ok" show_check.out || cat show_check.out

# --- verify: every image decoded, failures reported and moved aside (never deleted) -----
cp -r data vdata
run verify_bad 1 "$ursa" verify vdata
check "verify names the truncated file and the reason" contains verify_bad.err "vdata/red/corrupt.jpg: corrupt jpeg"
check "verify names the text file" contains verify_bad.err "vdata/green/notes.jpg: not an image"
check "verify counts per label" grep -qE "^red +[0-9]+ +1$" verify_bad.out
check "verify sums up" contains verify_bad.out "2 failed"
run verify_inside 2 "$ursa" verify vdata --move-bad vdata/bad
check "--move-bad inside the data (not hidden) is refused" contains verify_inside.err "inside vdata"
size_before=$(stat -c %s vdata/red/corrupt.jpg)
run verify_move 1 "$ursa" verify vdata --move-bad quarantine
check "failures are moved with their relative path" test -f quarantine/red/corrupt.jpg -a -f quarantine/green/notes.jpg
check "moved files are intact" test "$(stat -c %s quarantine/red/corrupt.jpg)" -eq "$size_before"
check "nothing bad is left in the data" test ! -e vdata/red/corrupt.jpg -a ! -e vdata/green/notes.jpg
run verify_clean 0 "$ursa" verify vdata
check "a clean dataset verifies with status 0" contains verify_clean.out "0 failed"
cp data/red/corrupt.jpg vdata/red/corrupt.jpg
run verify_again 1 "$ursa" verify vdata --move-bad quarantine
check "a second move never overwrites" test -f "quarantine/red/corrupt (2).jpg" -a -f quarantine/red/corrupt.jpg
run verify_missing 2 "$ursa" verify no-such-folder
check "a missing folder is named" contains verify_missing.err "no-such-folder"

# --- clean: a plan applied by moving files (nothing deleted), undone byte for byte ------
cp -r data cdata
cp cdata/green/green_01.jpg cdata/blue/red_01.jpg  # so relabelling red/red_01.jpg to blue clashes
tree_sums() { (cd "$1" && find . -path ./.ursa-trash -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }
tree_sums cdata >clean_before.sha
cat >plan.json <<'JSON'
{"version": 1, "data": "cdata", "items": [
  {"file": "red/corrupt.jpg", "action": "delete"},
  {"file": "green/notes.jpg", "action": "delete"},
  {"file": "red/red_01.jpg", "action": "relabel", "label": "blue"},
  {"file": "blue/blue_05.jpg", "action": "relabel", "label": "purple"}]}
JSON
run clean_dry 0 "$ursa" clean --data cdata --plan plan.json --apply --dry-run
check "clean --dry-run prints the delete" grep -qE "^delete  red/corrupt.jpg -> .ursa-trash/[0-9-]+/red/corrupt.jpg$" clean_dry.out
check "clean --dry-run prints the relabel with its clash-free name" contains clean_dry.out "relabel red/red_01.jpg -> blue/red_01 (2).jpg"
check "clean --dry-run leaves no trash or journal" test ! -e cdata/.ursa-trash
check "clean --dry-run changes no file" cmp -s clean_before.sha <(tree_sums cdata)
run clean_plan_data 0 "$ursa" clean --plan plan.json --apply --dry-run
check "without RUN or --data the plan's data is used" contains clean_plan_data.out "relabel blue/blue_05.jpg -> purple/blue_05.jpg"
run clean_run_data 0 "$ursa" clean run --plan plan.json --apply --dry-run
check "RUN's dataset wins over the plan's, and clean says so" contains clean_run_data.err "the plan names data cdata; using data"
run clean_apply 0 "$ursa" clean --data cdata --plan plan.json --apply
check "clean --apply moves deleted files into the trash" test -f cdata/.ursa-trash/*/red/corrupt.jpg -a ! -e cdata/red/corrupt.jpg
check "clean --apply relabels without overwriting" test -f "cdata/blue/red_01 (2).jpg" -a -f cdata/blue/red_01.jpg -a -f cdata/purple/blue_05.jpg
check "clean --apply writes its journal" grep -q '"state": "applied"' cdata/.ursa-trash/*/journal.json
check "clean --apply sums up" contains clean_apply.out "4 moved (2 deleted into .ursa-trash/"
run clean_undo 0 "$ursa" clean --data cdata/ --undo
check "clean --undo restores every file byte for byte" cmp -s clean_before.sha <(tree_sums cdata)
check "clean --undo removes the label folder the apply made" test ! -e cdata/purple
run clean_undo_again 0 "$ursa" clean --data cdata --undo
check "a second --undo has nothing left to undo" contains clean_undo_again.out "nothing to undo"
echo '{"version": 1, "items": [{"file": "../x.jpg", "action": "delete"}]}' >bad_plan.json
run clean_bad_plan 2 "$ursa" clean --data cdata --plan bad_plan.json --apply
check "a bad plan names the item and the reason" contains clean_bad_plan.err 'items[0] (../x.jpg): "file" must not contain ".."'
run clean_no_plan 2 "$ursa" clean --data cdata --apply
check "--apply without --plan says what is missing" contains clean_no_plan.err "--plan"
run help_clean 0 "$ursa" clean --help

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
