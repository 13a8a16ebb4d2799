"""Model definitions; each subfolder is a self-contained set of files that save_pretrained can ship."""
