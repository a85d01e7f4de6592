#!/usr/bin/env bash
# Synthesizes the test speech for tests/wakeword/run.sh with espeak-ng
# (Debian), converted by sox to what openWakeWord expects (16 kHz, mono,
# 16-bit PCM) with 1 s of silence before and 1.5 s after each utterance:
#   OUT/wake/hey_jarvis__VOICE__SPEED.wav, OUT/wake/alexa__VOICE__SPEED.wav
#   OUT/other/other_N.wav        about 60 s of other speech, several voices
#   OUT/orig/*.wav               a few clips at espeak-ng's own 22050 Hz, for
#                                nnedge's resampler (libsamplerate)
#   usage: gen_speech.sh OUT
set -euo pipefail
out=$1
mkdir -p "$out/wake" "$out/other" "$out/orig" "$out/raw"
voices="en-us en-gb en+f3 en-us+m3 en-gb-scotland en+f2"
speeds="130 175"
to16k() { sox -D "$1" -r 16000 -b 16 -c 1 -e signed-integer "$2" pad 1 1.5; }
for phrase in "hey jarvis" "alexa"; do
  tag=${phrase// /_}
  for v in $voices; do
    for s in $speeds; do
      raw="$out/raw/${tag}__${v}__${s}.wav"
      espeak-ng -v "$v" -s "$s" -w "$raw" "$phrase"
      to16k "$raw" "$out/wake/${tag}__${v}__${s}.wav"
    done
  done
done
# other speech: no wake word in it; together about a minute
texts=(
  "The weather service expects light rain in the northern valleys this afternoon, with clearer skies by the evening. Farmers have started the harvest two weeks early because the summer was unusually warm."
  "Please remember to water the plants on the balcony and to close the kitchen window before you leave. The library opens at nine and closes at six on weekdays."
  "Seven hundred and twenty people attended the concert in the old town hall. The orchestra played music by three composers, and the audience asked for two encores."
  "A good recipe for bread needs flour, water, salt and yeast, and a lot of patience while the dough rises slowly overnight in a cool room."
  "The train to the coast leaves from platform four at a quarter past eight. Passengers with bicycles should use the last carriage, where there is more space."
  "Numbers matter in science: the speed of light is close to three hundred thousand kilometres per second, and a year has three hundred and sixty five days."
)
other_voices=(en-us en-gb en+f3 en-us+m3 en-gb-x-rp en+f4)
for i in "${!texts[@]}"; do
  raw="$out/raw/other_$i.wav"
  espeak-ng -v "${other_voices[$i]}" -s 165 -w "$raw" "${texts[$i]}"
  sox -D "$raw" -r 16000 -b 16 -c 1 -e signed-integer "$out/other/other_$i.wav" pad 0.5 1
done
# espeak-ng's own rate (22050 Hz), silence padded the same way
for f in "hey_jarvis__en-us__130" "alexa__en-gb__175" "hey_jarvis__en+f3__175"; do
  sox "$out/raw/$f.wav" "$out/orig/$f.wav" pad 1 1.5
done
