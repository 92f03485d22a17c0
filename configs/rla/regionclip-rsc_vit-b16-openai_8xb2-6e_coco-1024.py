# R-SC-RLA: regionclip + SCD from the frozen initial tower followed by the stage-1 Refiner
# (tools/export_refiner.py output of the matching configs/refiner/ run).
_base_ = ['./regionclip_vit-b16-openai_8xb2-6e_coco-1024.py', '../_base_/scd_hook.py']
# ---- paths to edit: the only lines a run on your machine needs changed -------------------
clip_pretrained = 'checkpoints/ViT-B-16-openai.pt'  # CLIP weight file (docs/towers.md)
data_root = 'data/coco/'  # train2017/ and annotations/instances_train2017.json
concepts = 'data/coco/annotations/concepts_train2017_vit-b16-openai.pth'  # build_concepts.py + build_text_embeddings.py
refiner_file = 'checkpoints/refiner_vit-b16-openai.pth'  # tools/export_refiner.py
# ------------------------------------------------------------------------------------------
model = dict(pretrained=clip_pretrained, concepts=concepts)
train_dataloader = dict(dataset=dict(data_root=data_root))
custom_hooks = [dict(_base_.scd_hook, refiner=refiner_file)]
