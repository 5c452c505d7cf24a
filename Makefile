# Two commands on a fresh machine (each does all set-up it needs):
#   make demo   the course weights find the novel objects of data_samples/test; then a short fine-tune from them
#   make test   the whole test suite (what CI runs)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
comma := ,
STAMP := $(VENV)/.installed
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := False
export NO_ALBUMENTATIONS_UPDATE := 1
export HF_HUB_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/.yolo_config

.PHONY: setup demo test test-fast course lab learning weights site clean-cache

setup: $(STAMP)

# torch and torchvision first (the pinned CPU/CUDA wheels), then the project with its pinned dependencies.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/refdet demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

course: $(STAMP)
	$(BIN)/refdet course run

# does it learn? detector + verifier from scratch in 30 minutes of training, scored on novel objects (about an hour
# on 2 CPU cores with the transfer models: benchmarks/README.md)
learning: $(STAMP)
	$(BIN)/python benchmarks/learning.py --out runs/learning

# the course weights models/refdet_course.pt + models/README.md (the learning recipe at 60 minutes; MINUTES=N for
# another budget, OBJECT_SIZE='MIN MAX' for the training set's object sizes in px, IMGSZ=N for the frames' size)
MINUTES ?=
OBJECT_SIZE ?=
IMGSZ ?=
# BACKBONE=yolov8|mobilenetv2: the query backbone (default mobilenetv2, the ImageNet MobileNetV2 under YOLOv8's neck)
BACKBONE ?=
# P2=1: a stride-4 level in the neck, fusion and head (measured against the adopted weights: benchmarks/README.md)
P2 ?=
# REFIT=1 [CUES=mobilenetv2] [SIZE=1]: no training, the committed weights given the frozen ImageNet cue and their
# decision fitted again on the card's training videos (refdet_lib/train/course_refit.py)
REFIT ?=
CUES ?=
SIZE ?=
weights: $(STAMP)
	$(BIN)/refdet weights $(if $(REFIT),--refit $(if $(CUES),--cues $(subst $(comma), ,$(CUES))) $(if $(SIZE),--size)) \
		$(if $(MINUTES),--minutes $(MINUTES)) $(if $(OBJECT_SIZE),--object_size $(OBJECT_SIZE)) \
		$(if $(IMGSZ),--imgsz $(IMGSZ)) $(if $(BACKBONE),--backbone $(BACKBONE)) $(if $(P2),--p2)

# the course as a static site: every notebook executed headless, then HTML with its pictures (site/index.html), and
# the executed notebooks committed for readers of the repository (executed/; tests/test_published.py says when stale)
site: $(STAMP)
	$(BIN)/refdet course site --publish

lab: $(STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 --notebook-dir notebooks

clean-cache:
	rm -rf data_samples/*/.refdet_cache runs
