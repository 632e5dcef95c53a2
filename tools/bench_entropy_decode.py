"""Entropy decoding of one intra frame (``Codec.decode_levels``: ẑ, the integer hyperprior and context
networks, rANS), median milliseconds over 15 runs, at 416x240 (BasketballPass) and 854x480 (DAVIS blackswan).

    python tools/bench_entropy_decode.py          # one JSON line; alternate builds to compare them
"""
import time, torch, numpy as np, glob, json
from PIL import Image
from rac_video.codec.model import load_model
c=load_model()
out={}
for name,path in (("416x240",'/work/shared/data/video/basketballpass/BasketballPass'),("854x480",'/work/shared/data/video/davis2016/JPEGImages/blackswan')):
    f=np.asarray(Image.open(sorted(glob.glob(path+'/*'))[0]).convert('RGB'))
    H,W=f.shape[:2]; lev=np.full(c.latent_hw(H,W),6,np.uint8); p=c.encode_frame(f,lev,8)
    for i in range(3): c.decode_levels(p, lev, 8, height=H, width=W)
    ts=[]
    for i in range(15):
        t=time.perf_counter(); c.decode_levels(p, lev, 8, height=H, width=W); ts.append(time.perf_counter()-t)
    out[name]=round(1e3*float(np.median(ts)),2)
print(json.dumps(out))
