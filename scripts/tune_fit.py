"""Fit-schedule tuning on 128x128 centre crops of ../shared/data/train (never Kodak).

    python scripts/tune_fit.py NAME LATENT_LR_MULT NOISE_FRACTION LR [ITERATIONS]

Prints each image's bpp, PSNR and RD cost (MSE + 1e-3 bpp) and the mean; lower is better."""
import sys, time, torch
torch.set_num_threads(1)
import numpy as np, imageio.v3 as iio
import inrcodec.fit.train as T
from inrcodec.encoder import encode_with_report

name, mult, nf, lr = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
T.NOISE_FRACTION = nf; T.LR = lr
_Adam = torch.optim.Adam
class MultAdam(_Adam):
    def __init__(self, params, lr):
        params = list(params)
        big = max(params, key=lambda p: p.numel())
        rest = [p for p in params if p is not big]
        super().__init__([{"params": [big], "mult": mult}, {"params": rest, "mult": 1.0}], lr=lr)
    def step(self, closure=None):
        saved = [g["lr"] for g in self.param_groups]
        for g in self.param_groups: g["lr"] = g["lr"] * g["mult"]
        out = super().step(closure)
        for g, s in zip(self.param_groups, saved): g["lr"] = s
        return out
torch.optim.Adam = MultAdam
res = []
for img in ["4.2.03", "house", "4.1.05"]:
    paths = [p for p in __import__("glob").glob(f"/work/shared/data/train/{img}*")]
    im = iio.imread(paths[0])[:, :, :3]
    h, w = im.shape[:2]; c = im[h//2-64:h//2+64, w//2-64:w//2+64]
    lm = 1e-3
    data, r = encode_with_report(c, lmbda=lm, iterations=int(sys.argv[5]) if len(sys.argv) > 5 else 2000)
    cost = 10 ** (-r["psnr"] / 10) + lm * r["bpp"]
    res.append(cost)
    print(name, img, f"bpp {r['bpp']:.3f} psnr {r['psnr']:.2f} cost {cost:.6f} t {r['encode_seconds']:.0f}", flush=True)
print(name, "MEAN", np.mean(res))
