"""Example bodies of the catalogue endpoints (reference §2.5-§2.20), shaped like the official
pages' examples: each loads, dumps back to the same JSON, and runs through the simulator."""

from __future__ import annotations

from typing import Any

IMG = "https://img.example/a.png"
VID = "https://vid.example/a.mp4"

CATALOGUE_SEEDS: dict[str, list[dict[str, Any]]] = {
    "videos/avatar/image2video": [
        {"image": IMG, "audio_id": "audio-1", "prompt": "smiles", "mode": "std"},
        {"image": IMG, "sound_file": "https://snd.example/a.mp3", "mode": "pro",
         "external_task_id": "av-1", "watermark_info": {"enabled": True}},
    ],
    "videos/advanced-lip-sync": [
        {"session_id": "s-1", "face_choose": [{
            "face_id": "0", "audio_id": "audio-1", "sound_start_time": 0,
            "sound_end_time": 5000, "sound_insert_time": 1000, "sound_volume": 1.5,
            "original_audio_volume": 0.5}]},
    ],
    "videos/effects": [
        {"effect_scene": "color_mixing", "input": {"image": IMG}},
        {"effect_scene": "hug_pro", "input": {"images": [IMG, IMG]},
         "callback_url": "https://cb.example/k"},
    ],
    "videos/multi-elements": [
        {"session_id": "s-1", "edit_mode": "addition", "image_list": [{"image": IMG}],
         "prompt": "add <<<image_1>>> to <<<video_1>>>", "mode": "std", "duration": "5"},
        {"session_id": "s-1", "edit_mode": "removal", "prompt": "remove it",
         "negative_prompt": "blur", "duration": "10"},
    ],
    "audio/text-to-audio": [
        {"prompt": "rain on a tin roof", "duration": 5.5},
    ],
    "audio/video-to-audio": [
        {"video_url": VID, "sound_effect_prompt": "waves", "bgm_prompt": "calm piano",
         "asmr_mode": False},
        {"video_id": "v-1", "external_task_id": "va-1"},
    ],
    "images/multi-image2image": [
        {"model_name": "kling-v2-1", "prompt": "together at the beach",
         "subject_image_list": [{"subject_image": IMG}, {"subject_image": IMG}],
         "scene_image": IMG, "style_image": IMG, "n": 2, "aspect_ratio": "3:2"},
    ],
    "images/editing/expand": [
        {"image": IMG, "up_expansion_ratio": 0.1, "down_expansion_ratio": 0.1,
         "left_expansion_ratio": 0.2, "right_expansion_ratio": 0.2, "prompt": "more sky",
         "n": 2},
    ],
    "images/kolors-virtual-try-on": [
        {"model_name": "kolors-virtual-try-on-v1-5", "human_image": IMG, "cloth_image": IMG},
    ],
    "general/ai-multi-shot": [
        {"element_frontal_image": IMG, "external_task_id": "ms-1"},
    ],
    "general/custom-voices": [
        {"voice_name": "narrator", "voice_url": "https://snd.example/v.mp3"},
    ],
    "general/advanced-custom-elements": [
        {"element_name": "Max", "element_description": "a corgi in a red scarf",
         "reference_type": "image_refer",
         "element_image_list": {"frontal_image": IMG, "refer_images": [{"image_url": IMG}]},
         "tag_list": [{"tag_id": "o_103"}]},
        {"element_name": "Ann", "element_description": "a dancer",
         "reference_type": "video_refer",
         "element_video_list": {"refer_videos": [{"video_url": VID}]},
         "element_voice_id": "voice-1"},
    ],
    "videos/video-extend": [
        {"video_id": "v-1", "prompt": "keep walking", "cfg_scale": 0.5},
    ],
    "videos/multi-image2video": [
        {"model_name": "kling-v1-6", "image_list": [{"image": IMG}, {"image": IMG}],
         "prompt": "they meet", "mode": "std", "duration": "5", "aspect_ratio": "16:9"},
    ],
    "videos/lip-sync": [
        {"input": {"video_id": "v-1", "mode": "text2video", "text": "hello",
                   "voice_id": "oversea_male1", "voice_language": "en", "voice_speed": 1.0}},
        {"input": {"video_url": VID, "mode": "audio2video", "audio_type": "url",
                   "audio_url": "https://snd.example/a.mp3"}},
    ],
    "videos/motion-control": [
        {"model_name": "kling-v2-6", "image_url": IMG, "video_url": VID,
         "character_orientation": "image", "mode": "pro", "keep_original_sound": "yes"},
    ],
}
