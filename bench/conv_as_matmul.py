"""oneDNN's convolution passes against the same computed as one matrix product each
(im2col of the input in channels-last order, then torch.mm: for bf16 libtorch sends it to
oneDNN's AMX matmul, for fp32 to the system BLAS, OpenBLAS after tools/setup.sh), for ResNet
shapes: what trainer/src/matmul_conv.cpp's plans (matmul_conv_plan) were chosen from.
Milliseconds per call, 2 threads.
usage: /usr/bin/python3 bench/conv_as_matmul.py [bf16|fp32]   (default bf16; the Debian torch
       1.13 that Ursa's libtorch is)
The last three columns: the largest difference between the two ways, relative to the
largest value (rounding), for the weight gradient, the input gradient and the output.
"""
import sys, torch, time, torch.nn.functional as F
torch.set_num_threads(2)
DTYPE = {"bf16": torch.bfloat16, "fp32": torch.float32}[sys.argv[1] if len(sys.argv) > 1 else "bf16"]
def bench(f, n=10):
    f(); f()
    t=time.time()
    for _ in range(n): f()
    return (time.time()-t)/n*1000
def im2col_nhwc(x, s):  # x [N,C,H,W] channels-last, 3x3 pad 1 stride s -> [N*Ho*Wo, 9C] (kh,kw,c)
    N,C,H,W=x.shape
    xn=x.permute(0,2,3,1)  # NHWC view, contiguous
    xp=F.pad(xn,(0,0,1,1,1,1))
    Ho=(H+2-3)//s+1; Wo=(W+2-3)//s+1
    sl=[xp[:,kh:kh+s*(Ho-1)+1:s, kw:kw+s*(Wo-1)+1:s,:] for kh in range(3) for kw in range(3)]
    return torch.cat(sl,-1).reshape(N*Ho*Wo,9*C), Ho, Wo
def col2im_nhwc(cols, N,C,H,W,s,Ho,Wo):  # cols [N*Ho*Wo, 9C] -> grad x NCHW(channels-last)
    g=cols.view(N,Ho,Wo,9,C)
    xp=torch.zeros(N,H+2,W+2,C,dtype=torch.float32)
    i=0
    for kh in range(3):
        for kw in range(3):
            xp[:,kh:kh+s*(Ho-1)+1:s, kw:kw+s*(Wo-1)+1:s,:]+=g[:,:,:,i,:]; i+=1
    return xp[:,1:H+1,1:W+1,:].to(cols.dtype).permute(0,3,1,2)
for (N,C,H,O,s) in [(64,512,4,512,1),(64,256,8,256,1),(64,256,8,512,2),(64,128,16,128,1),(64,64,32,64,1),(128,128,4,128,1),(128,128,4,128,2),(128,64,7,64,1),(128,64,7,128,2),(128,32,14,32,1),(128,32,14,64,2),(128,16,28,32,2),(128,128,2,128,1),(64,64,16,128,2),(64,128,8,256,2),(64,128,16,256,2),(128,32,14,64,2)]:
    x=torch.randn(N,C,H,H).to(DTYPE).contiguous(memory_format=torch.channels_last)
    w=torch.randn(O,C,3,3).to(DTYPE).contiguous(memory_format=torch.channels_last)
    Ho=(H+2-3)//s+1
    gy=torch.randn(N,O,Ho,Ho).to(DTYPE).contiguous(memory_format=torch.channels_last)
    bw=lambda: torch.ops.aten.convolution_backward(gy,x,w,None,[s,s],[1,1],[1,1],False,[0,0],1,[False,True,False])
    bd=lambda: torch.ops.aten.convolution_backward(gy,x,w,None,[s,s],[1,1],[1,1],False,[0,0],1,[True,False,False])
    fw=lambda: F.conv2d(x,w,stride=s,padding=1)
    g2=gy.permute(0,2,3,1).reshape(-1,O)
    wm=w.permute(0,2,3,1).reshape(O,9*C)   # [O, (kh,kw,c)]
    def mmw():
        cols,_,_=im2col_nhwc(x,s)
        return g2.t().mm(cols).view(O,3,3,C).permute(0,3,1,2)
    def mmd():
        gc=g2.mm(wm)
        return col2im_nhwc(gc,N,C,H,H,s,Ho,Ho)
    def mmf():
        cols,_,_=im2col_nhwc(x,s)
        return cols.mm(wm.t()).view(N,Ho,Ho,O).permute(0,3,1,2)
    i2c=lambda: im2col_nhwc(x,s)
    a=bw()[1].float(); b=mmw().float(); e1=((a-b).abs().max()/a.abs().max()).item()
    a=bd()[0].float(); b=mmd().float(); e2=((a-b).abs().max()/a.abs().max()).item()
    a=fw().float(); b=mmf().float(); e3=((a-b).abs().max()/a.abs().max()).item()
    print(f"N{N} C{C}->{O} H{H} s{s}: fwd {bench(fw):5.1f} vs {bench(mmf):5.1f} | bwd_w {bench(bw):5.1f} vs {bench(mmw):5.1f} | bwd_d {bench(bd):5.1f} vs {bench(mmd):5.1f} | im2col {bench(i2c):4.1f}  err {e1:.3f} {e2:.3f} {e3:.3f}")
