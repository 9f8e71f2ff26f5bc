# The per-model compute timings (nv_inference_compute_{input,infer,output}_duration_us)
# come from the backend: enable its statistics (the recipe's PACKAGECONFIG is
# "gpu") for DISTRO = "mlinfer".
PACKAGECONFIG:append:mlinfer-distro = " stats"
