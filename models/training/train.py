#!/usr/bin/env python3
"""Trains the shipped models from tensors written by the node's own training export.

    /usr/bin/python3 models/training/train.py --export DIR --out models [--only ID ...]

DIR/<model-id>/x.f32 (float32, N x C x H x W), DIR/<model-id>/meta.json (shape, one row per sample:
patientId, label, weight, clinical) and, for the localiser, DIR/<model-id>/y.u8 (N x H x W class ids).
The recipe (models/training/recipe.json) names each model's architecture and training settings; the
node's export used the same recipe's preparation steps, so training sees what serving sees.

Writes models/<id>/model.onnx and models/<id>/training.json (cut-off and how it was chosen, metrics on
the validation split, per-patient validation scores for ensemble cut-offs, sample counts). A model with a
clinical early-fusion input (clinical.use = "input") is exported twice: <id>-fusion (image + clinical
vector) and <id> (image only: the clinical input fixed to zeros in the graph). A model with a logistic
clinical combination (clinical.use = "logistic") gets the regression fitted on the training split, with
the standardisation folded into the coefficients (raw encoded values in, as the manifest says).
Patient-level split: 80 % training, 20 % validation, by a hash of the PatientID. CPU only.
"""
import argparse
import hashlib
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import nets

HERE = os.path.dirname(os.path.abspath(__file__))


def is_validation(patient_id, fraction=0.2):
    h = int(hashlib.sha256(patient_id.encode()).hexdigest()[:8], 16)
    return (h % 1000) < fraction * 1000


def load(export_dir, model_id):
    d = os.path.join(export_dir, model_id)
    meta = json.load(open(os.path.join(d, "meta.json")))
    n, c, h, w = meta["shape"]
    x = np.fromfile(os.path.join(d, "x.f32"), dtype="<f4").reshape(n, c, h, w)
    y = None
    if os.path.exists(os.path.join(d, "y.u8")):
        y = np.fromfile(os.path.join(d, "y.u8"), dtype=np.uint8).reshape(n, h, w)
    return meta, x, y


def auc(scores, labels):
    """Mann-Whitney AUC with ties counted half."""
    pos = [s for s, l in zip(scores, labels) if l == 1]
    neg = [s for s, l in zip(scores, labels) if l == 0]
    if not pos or not neg:
        return float("nan")
    wins = 0.0
    for p in pos:
        for q in neg:
            wins += 1.0 if p > q else 0.5 if p == q else 0.0
    return wins / (len(pos) * len(neg))


def youden_cutoff(scores, labels):
    best, best_j = 0.5, -1.0
    for t in sorted(set(scores)):
        tp = sum(1 for s, l in zip(scores, labels) if s >= t and l == 1)
        fn = sum(1 for s, l in zip(scores, labels) if s < t and l == 1)
        tn = sum(1 for s, l in zip(scores, labels) if s < t and l == 0)
        fp = sum(1 for s, l in zip(scores, labels) if s >= t and l == 0)
        j = tp / max(tp + fn, 1) + tn / max(tn + fp, 1) - 1
        if j > best_j:
            best, best_j = t, j
    return float(best)


def augment(xb):
    # flips left-right (the neck is near-symmetric) and small intensity jitter; only in training
    if random.random() < 0.5:
        xb = torch.flip(xb, dims=[3])
    return xb * (1 + 0.1 * (torch.rand(xb.shape[0], 1, 1, 1) - 0.5))


def patient_means(meta, rows_idx, probs):
    """Patient-level score as serving aggregates it: only the slices serving would select, mean or
    area-weighted mean (aggregation "single" has one serving slice per patient)."""
    acc = {}
    weighted = meta.get("aggregation") == "weighted-mean-by-area"
    for i, p in zip(rows_idx, probs):
        r = meta["rows"][i]
        if not r.get("servingSlice", True):
            continue
        wgt = (float(r.get("weight", 1.0)) or 1.0) if weighted else 1.0
        s, ws, lab = acc.get(r["patientId"], (0.0, 0.0, r["label"]))
        acc[r["patientId"]] = (s + wgt * p, ws + wgt, lab)
    return {pid: (s / ws, lab) for pid, (s, ws, lab) in acc.items()}


def train_classifier(spec, meta, x, seed):
    torch.manual_seed(seed)
    random.seed(seed)
    rows = meta["rows"]
    clin_dim = len(rows[0]["clinical"]) if meta.get("clinicalUse") == "input" else 0
    model = nets.build(spec["arch"], cin=x.shape[1], extra=clin_dim, width=spec.get("width", 12))
    tr = [i for i, r in enumerate(rows) if not is_validation(r["patientId"]) and r["label"] is not None]
    va = [i for i, r in enumerate(rows) if is_validation(r["patientId"]) and r["label"] is not None]
    xt = torch.from_numpy(x)
    yt = torch.tensor([float(r["label"] if r["label"] is not None else 0) for r in rows]).view(-1, 1)
    ct = torch.tensor([r["clinical"] for r in rows], dtype=torch.float32) if clin_dim else None
    opt = torch.optim.Adam(model.parameters(), lr=spec.get("lr", 2e-3), weight_decay=1e-4)
    bs = spec.get("batch", 32)
    epochs = spec.get("epochs", 8)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * math.ceil(len(tr) / bs))
    for ep in range(epochs):
        model.train()
        random.shuffle(tr)
        total = 0.0
        for k in range(0, len(tr), bs):
            idx = tr[k:k + bs]
            xb = augment(xt[idx])
            cb = None
            if clin_dim:
                cb = ct[idx].clone()
                drop = torch.rand(len(idx)) < 0.5  # learn to work with and without covariates
                cb[drop] = 0.0
            _, _, logit = model(xb, cb)
            loss = F.binary_cross_entropy_with_logits(logit, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"  {spec['id']} epoch {ep + 1}/{epochs} loss {total / max(len(tr), 1):.4f}", flush=True)
    model.eval()

    def predict(idx, with_clinical):
        out = []
        with torch.no_grad():
            for k in range(0, len(idx), 128):
                ii = idx[k:k + 128]
                cb = None
                if clin_dim:
                    cb = ct[ii] if with_clinical else torch.zeros(len(ii), clin_dim)
                p, _, _ = model(xt[ii], cb)
                out += p.view(-1).tolist()
        return out

    result = {"nTrainSamples": len(tr), "nValidationSamples": len(va)}
    for name, idx in (("train", tr), ("validation", va)):
        pm = patient_means(meta, idx, predict(idx, False))
        s = [v[0] for v in pm.values()]
        l = [v[1] for v in pm.values()]
        result[f"{name}Patients"] = len(pm)
        result[f"{name}Auc"] = auc(s, l)
        result[f"_{name}Scores"] = (s, l)
        result[f"_{name}ByPatient"] = {pid: [round(v[0], 6), v[1]] for pid, v in pm.items()}
        if clin_dim:
            pmc = patient_means(meta, idx, predict(idx, True))
            result[f"{name}AucWithClinical"] = auc([v[0] for v in pmc.values()], [v[1] for v in pmc.values()])
            result[f"_{name}ScoresWithClinical"] = ([v[0] for v in pmc.values()], [v[1] for v in pmc.values()])
            result[f"_{name}ByPatientWithClinical"] = {pid: [round(v[0], 6), v[1]] for pid, v in pmc.items()}
    return model, result


def choose_cutoff(spec, result, suffix=""):
    method = spec.get("cutoff", "youden")
    if method == "median-train":
        s, _ = result["_trainScores" + suffix]
        return float(np.median(s)), "median predicted risk of the training split (paper 003)"
    if method == "fixed":
        return float(spec.get("cutoffValue", 0.5)), "fixed"
    s, l = result["_validationScores" + suffix]
    # youden-ensemble: this model's own Youden cut-off; tools/write-model-manifests.ts replaces it by the
    # cut-off of the soft vote of the ensemble's members on the validation split
    return youden_cutoff(s, l), "ROC-optimal (Youden) on the validation split"


def fit_logistic(features, labels, iters=800, lr=0.05, l2=1e-3):
    """Logistic regression on z-scored features; returns the coefficients for the raw features (the
    standardisation folded in: w_raw = w / std, intercept = b - sum(w * mean / std))."""
    x = torch.tensor(features, dtype=torch.float32)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    y = torch.tensor(labels, dtype=torch.float32).view(-1, 1)
    w = torch.zeros(x.shape[1], 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    for _ in range(iters):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        opt.step()
    wz = w.detach().view(-1)
    raw = (wz / std).tolist()
    intercept = float(b.detach()) - float((wz * mean / std).sum())
    return {"coefficients": raw, "intercept": intercept}


def logit(p):
    p = min(1 - 1e-7, max(1e-7, p))
    return math.log(p / (1 - p))


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def train_localiser(spec, meta, x, y, seed):
    torch.manual_seed(seed)
    random.seed(seed)
    rows = meta["rows"]
    model = nets.build("unet", cin=x.shape[1], width=spec.get("width", 12))
    rng = random.Random(seed)
    keep_empty = spec.get("keepEmptyFraction", 1.0)
    tr = [i for i, r in enumerate(rows) if not is_validation(r["patientId"]) and (y[i].any() or rng.random() < keep_empty)]
    va = [i for i, r in enumerate(rows) if is_validation(r["patientId"])]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    # class weights: lesions are small
    counts = np.bincount(y[tr].reshape(-1), minlength=3).astype(np.float64) + 1
    weights = torch.tensor((counts.sum() / counts) ** spec.get("classWeightPower", 0.5), dtype=torch.float32)
    weights = weights / weights.mean()
    opt = torch.optim.Adam(model.parameters(), lr=spec.get("lr", 3e-3))
    bs = 16
    epochs = spec.get("epochs", 6)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * math.ceil(len(tr) / bs))
    dice_weight = spec.get("diceWeight", 0.0)
    for ep in range(epochs):
        model.train()
        random.shuffle(tr)
        total = 0.0
        for k in range(0, len(tr), bs):
            idx = tr[k:k + bs]
            xb, yb = xt[idx], yt[idx]
            if random.random() < 0.5:
                xb, yb = torch.flip(xb, dims=[3]), torch.flip(yb, dims=[2])
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, weight=weights)
            if dice_weight:
                # soft Dice of GTV and GTVln over the batch: keeps the masks' extent (volumes, borders) honest,
                # where class-weighted cross-entropy alone grows them
                prob = torch.softmax(logits, 1)[:, 1:]
                onehot = torch.stack([(yb == c).float() for c in (1, 2)], 1)
                inter = (prob * onehot).sum((0, 2, 3))
                denom = prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
                loss = loss + dice_weight * (1 - ((2 * inter + 1) / (denom + 1))).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"  {spec['id']} epoch {ep + 1}/{epochs} loss {total / len(tr):.4f}", flush=True)
    model.eval()
    dice = {1: [0, 0], 2: [0, 0]}
    with torch.no_grad():
        for k in range(0, len(va), 64):
            idx = va[k:k + 64]
            pred = model(xt[idx]).argmax(1)
            for c in (1, 2):
                p, t = pred == c, yt[idx] == c
                dice[c][0] += 2 * (p & t).sum().item()
                dice[c][1] += p.sum().item() + t.sum().item()
    return model, {
        "nTrainSamples": len(tr), "nValidationSamples": len(va),
        "validationDiceGtv": dice[1][0] / max(dice[1][1], 1), "validationDiceGtvln": dice[2][0] / max(dice[2][1], 1),
    }


class LocaliserExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        # per-pixel probabilities of GTV and GTVln (the background channel is left out)
        return torch.softmax(self.m(x), dim=1)[:, 1:]


class ClassifierExport(torch.nn.Module):
    def __init__(self, m, with_clinical):
        super().__init__()
        self.m, self.with_clinical = m, with_clinical

    def forward(self, x, clinical=None):
        if self.m.backbone.extra and not self.with_clinical:
            # image-only variant of an early-fusion network: the clinical vector is zeros, as in training
            # with covariates dropped
            clinical = torch.zeros(x.shape[0], self.m.backbone.extra, dtype=x.dtype)
        p, cam, _ = self.m(x, clinical)
        return p, cam


def export_onnx(model, spec, shape, clin_dim, with_clinical, path):
    model.eval()
    c, h, w = shape[1:]
    dummy = torch.zeros(1, c, h, w)
    if spec["task"] == "localiser":
        torch.onnx.export(LocaliserExport(model), (dummy,), path, opset_version=17, input_names=["image"],
                          output_names=["mask"], dynamic_axes={"image": {0: "N"}, "mask": {0: "N"}})
    elif clin_dim and with_clinical:
        torch.onnx.export(ClassifierExport(model, True), (dummy, torch.zeros(1, clin_dim)), path, opset_version=17,
                          input_names=["image", "clinical"], output_names=["probability", "cam"],
                          dynamic_axes={"image": {0: "N"}, "clinical": {0: "N"}, "probability": {0: "N"}, "cam": {0: "N"}})
    else:
        torch.onnx.export(ClassifierExport(model, False), (dummy,), path, opset_version=17, input_names=["image"],
                          output_names=["probability", "cam"],
                          dynamic_axes={"image": {0: "N"}, "probability": {0: "N"}, "cam": {0: "N"}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, ".."))
    ap.add_argument("--recipe", default=os.path.join(HERE, "recipe.json"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, help="override every model's epochs (smoke tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipe = json.load(open(args.recipe))
    total0 = time.time()
    for spec in recipe["models"]:
        if args.only and spec["id"] not in args.only:
            continue
        if args.epochs:
            spec = {**spec, "epochs": args.epochs}
        t0 = time.time()
        print(f"training {spec['id']} ({spec['task']}, {spec.get('arch', 'unet')})", flush=True)
        meta, x, y = load(args.export, spec["id"])
        out_dir = os.path.join(args.out, spec["id"])
        os.makedirs(out_dir, exist_ok=True)
        if spec["task"] == "localiser":
            model, result = train_localiser(spec, meta, x, y, args.seed)
            export_onnx(model, spec, meta["shape"], 0, False, os.path.join(out_dir, "model.onnx"))
            finish(out_dir, result, t0, meta, spec, [])
            continue
        model, result = train_classifier(spec, meta, x, args.seed)
        cutoff, how = choose_cutoff(spec, result)
        result["cutoff"], result["cutoffMethod"] = cutoff, how
        result["validationScoresByPatient"] = result["_validationByPatient"]
        if meta.get("clinicalUse") == "logistic":
            # paper 003: logistic regression of the deep-learning signature (as its logit) with the encoded
            # clinical vector, fitted on the training split's patient-level signatures
            train_rows = {}
            for r in meta["rows"]:
                if not is_validation(r["patientId"]):
                    train_rows[r["patientId"]] = r
            tb = result["_trainByPatient"]
            pids = sorted(tb)
            feats = [[logit(tb[p][0])] + train_rows[p]["clinical"] for p in pids]
            fit = fit_logistic(feats, [tb[p][1] for p in pids])
            lg = {"intercept": fit["intercept"], "imageCoefficient": fit["coefficients"][0], "imageTransform": "logit",
                  "coefficients": fit["coefficients"][1:]}

            def combined(p, clin):
                return sigmoid(lg["intercept"] + lg["imageCoefficient"] * logit(p) + sum(c * v for c, v in zip(lg["coefficients"], clin)))

            val_rows = {r["patientId"]: r for r in meta["rows"] if is_validation(r["patientId"])}
            vb = result["_validationByPatient"]
            train_comb = [combined(tb[p][0], train_rows[p]["clinical"]) for p in pids]
            val_comb = [combined(vb[p][0], val_rows[p]["clinical"]) for p in sorted(vb)]
            lg["cutoff"] = float(np.median(train_comb))
            lg["cutoffMethod"] = "median combined risk of the training split (paper 003)"
            result["logistic"] = lg
            result["validationAucCombined"] = auc(val_comb, [vb[p][1] for p in sorted(vb)])
            result["trainAucCombined"] = auc(train_comb, [tb[p][1] for p in pids])
        clin_dim = len(meta["rows"][0]["clinical"]) if meta.get("clinicalUse") == "input" else 0
        export_onnx(model, spec, meta["shape"], clin_dim, False, os.path.join(out_dir, "model.onnx"))
        finish(out_dir, result, t0, meta, spec, [])
        if clin_dim:
            fusion_dir = os.path.join(args.out, spec["id"] + "-fusion")
            os.makedirs(fusion_dir, exist_ok=True)
            fres = dict(result)
            fc, fhow = choose_cutoff(spec, result, "WithClinical")
            fres.update({"cutoff": fc, "cutoffMethod": fhow, "validationAucImageOnly": result["validationAuc"],
                         "validationAuc": result["validationAucWithClinical"],
                         "validationScoresByPatient": result["_validationByPatientWithClinical"], "fusionOf": spec["id"]})
            export_onnx(model, spec, meta["shape"], clin_dim, True, os.path.join(fusion_dir, "model.onnx"))
            finish(fusion_dir, fres, t0, meta, spec, [])
    print(f"total training time {time.time() - total0:.1f} s", flush=True)


def finish(out_dir, result, t0, meta, spec, _):
    result = {k: v for k, v in result.items() if not k.startswith("_")}
    result["trainingSeconds"] = round(time.time() - t0, 1)
    result["threads"] = torch.get_num_threads()
    result["clinicalVariables"] = meta.get("clinicalVariables", [])
    result["cohort"] = meta.get("cohort", {})
    if spec["task"] != "localiser":
        result["regions"] = meta.get("regions", "ground-truth")
    result["exportShape"] = meta["shape"]
    result["skippedPatients"] = len(meta.get("skipped", []))
    result = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}
    json.dump(result, open(os.path.join(out_dir, "training.json"), "w"), indent=2)
    short = {k: v for k, v in result.items() if k != "validationScoresByPatient"}
    print(f"  -> {json.dumps(short)}", flush=True)


if __name__ == "__main__":
    main()
