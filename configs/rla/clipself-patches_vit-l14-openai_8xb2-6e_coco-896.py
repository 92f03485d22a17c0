# Stage 2, RLA only: clipself-patches fine-tuning of ViT-L-14-quickgelu (METHOD.md section 5);
# clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py with another tower. Edit: clip_pretrained.
_base_ = ['./clipself-patches_vit-b16-openai_8xb2-6e_coco-1024.py']
image_size = 896  # a multiple of the patch size 14
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageChecked', on_unreadable='raise'),
    dict(type='ResizeLongestSidePad', size=896),
    dict(type='RandomGridBoxes', max_split=6, max_boxes=20),
    dict(type='PackImageInputs'),
]))
clip_model = 'ViT-L-14-quickgelu'
clip_pretrained = 'checkpoints/ViT-L-14-openai.pt'
model = dict(clip_model=clip_model, pretrained=clip_pretrained)
