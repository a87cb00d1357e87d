#!/usr/bin/env bash
# Makes the decode corpus: every format the decoders read, with the odd variants real uploads
# bring, each small. Needs Debian's imagemagick, libheif-examples, libavif-bin, libopenjp2-tools,
# webp, libtiff-tools, gifsicle and libimage-exiftool-perl, and node for mangle.mjs (byte surgery
# for the broken files and the BMP layouts no tool writes). The output is committed; run this
# again only to change the corpus, then commit exiftool.json with it (the tests read that, so
# they need no exiftool).
set -euo pipefail
cd "$(dirname "$0")"
rm -rf -- *.jpg *.png *.tif *.gif *.webp *.avif *.heic *.jp2 *.j2c *.bmp broken exiftool.json
mkdir -p broken
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Asymmetric on purpose (a red block top left, a green disc bottom right) so a wrong rotation or
# mirror shows in the thumbnail.
convert -size 160x120 gradient:'#3060c0'-'#f0e060' -fill red -draw 'rectangle 0,0 39,29' \
  -fill green -draw 'circle 120,90 120,110' -alpha off -depth 8 PNG24:"$tmp/base.png"
convert "$tmp/base.png" \( -size 120x160 gradient:white-'#303030' -rotate 90 \) -alpha off \
  -compose CopyOpacity -composite -depth 8 PNG32:"$tmp/base-rgba.png"
convert "$tmp/base-rgba.png" -depth 16 PNG64:"$tmp/base-rgba16.png"
convert "$tmp/base.png" -depth 16 PNG48:"$tmp/base-rgb16.png"
for i in 1 2 3 4; do
  convert "$tmp/base.png" -roll +$((i * 30))+0 -fill white -draw "rectangle $((i * 20)),50 $((i * 20 + 15)),65" \
    -alpha off -depth 8 PNG24:"$tmp/frame$i.png"
done

# JPEG
convert "$tmp/base.png" -quality 85 jpeg-baseline.jpg
convert "$tmp/base.png" -quality 85 -interlace Plane jpeg-progressive.jpg
convert "$tmp/base.png" -colorspace Gray jpeg-gray.jpg
convert "$tmp/base.png" -colorspace CMYK jpeg-cmyk.jpg
for o in 3 6 8; do
  cp jpeg-baseline.jpg "jpeg-exif-$o.jpg"
  exiftool -q -n -Orientation="$o" -overwrite_original "jpeg-exif-$o.jpg"
done
# A camera trailer after the end-of-image marker (motion photos append a whole video).
{ cat jpeg-baseline.jpg; head -c 3000 /dev/zero | tr '\0' 'V'; } >jpeg-trailer.jpg

# PNG
convert "$tmp/base.png" PNG24:png-rgb8.png
cp "$tmp/base-rgba16.png" png-rgba16.png
convert "$tmp/base.png" -colors 64 PNG8:png-palette.png
convert "$tmp/base-rgba.png" -colorspace Gray -depth 8 -define png:color-type=4 png-gray-alpha.png
convert "$tmp/base.png" -monochrome -define png:bit-depth=1 -define png:color-type=0 png-gray1.png
convert "$tmp/base.png" -interlace PNG PNG24:png-interlaced.png
cp png-rgb8.png png-exif-6.png
exiftool -q -n -Orientation=6 -overwrite_original png-exif-6.png

# TIFF
convert "$tmp/base-rgb16.png" -compress zip tiff-rgb16.tif
convert "$tmp/base.png" -colorspace CMYK -depth 8 -compress lzw tiff-cmyk.tif
convert "$tmp/base-rgba.png" -depth 8 -compress lzw tiff-rgba.tif
convert "$tmp/base.png" -depth 8 -define tiff:tile-geometry=64x64 -compress zip tiff-tiled.tif
for i in 1 2 3; do convert "$tmp/frame$i.png" -depth 8 -compress lzw "$tmp/page$i.tif"; done
tiffcp "$tmp/page1.tif" "$tmp/page2.tif" "$tmp/page3.tif" tiff-multipage.tif

# GIF
convert "$tmp/base.png" gif-static.gif
convert "$tmp/base-rgba.png" -channel A -threshold 50% +channel gif-transparent.gif
for i in 1 2 3 4; do convert "$tmp/frame$i.png" "$tmp/frame$i.gif"; done
gifsicle --loop --delay 10 "$tmp"/frame{1,2,3,4}.gif >gif-animated.gif

# WebP
cwebp -quiet -q 80 "$tmp/base.png" -o webp-lossy.webp
cwebp -quiet -lossless "$tmp/base-rgba.png" -o webp-lossless-alpha.webp
img2webp -q 70 -lossy "$tmp"/frame{1,2,3,4}.png -o webp-animated.webp >/dev/null

# AVIF (10 and 12 bit from 16-bit input; 4:0:0 is grey; irot is a rotation libheif applies itself)
avifenc -d 8 "$tmp/base.png" avif-8bit.avif >/dev/null
avifenc -d 10 "$tmp/base-rgb16.png" avif-10bit.avif >/dev/null
avifenc -d 12 "$tmp/base-rgba16.png" avif-12bit-alpha.avif >/dev/null
avifenc -y 400 "$tmp/base.png" avif-gray.avif >/dev/null
avifenc --irot 1 "$tmp/base.png" avif-irot.avif >/dev/null
avifenc --fps 10 "$tmp"/frame{1,2,3}.png avif-sequence.avif >/dev/null

# HEIC
heif-enc -q 60 "$tmp/base.png" -o heic-basic.heic >/dev/null
heif-enc -q 60 "$tmp/base-rgba.png" -o heic-alpha.heic >/dev/null
heif-enc -q 60 -b 10 "$tmp/base-rgb16.png" -o heic-10bit.heic >/dev/null
heif-enc -q 60 "$tmp/frame1.png" "$tmp/frame2.png" -o heic-collection.heic >/dev/null
# irot by hand (heif-enc 1.15 cannot write it): libheif turns the image itself, once.
node mangle.mjs heif-irot heic-basic.heic heic-irot.heic 1

# JPEG 2000 (JP2 boxes, and raw codestreams named .j2c)
opj_compress -i "$tmp/base.png" -o jp2-rgb8.jp2 >/dev/null
opj_compress -i "$tmp/base-rgb16.png" -o jp2-rgb16.jp2 >/dev/null
opj_compress -i "$tmp/base-rgba.png" -o jp2-rgba.jp2 >/dev/null
convert "$tmp/base.png" -colorspace Gray -depth 8 "$tmp/gray.pgm"
opj_compress -i "$tmp/gray.pgm" -o jp2-gray.jp2 >/dev/null
opj_compress -i "$tmp/base.png" -t 64,64 -r 20 -o j2c-tiled.j2c >/dev/null

# BMP
convert "$tmp/base.png" BMP3:bmp-24.bmp
convert "$tmp/base-rgba.png" BMP:bmp-32-alpha.bmp
convert "$tmp/base.png" -colors 200 -type Palette -compress none BMP3:bmp-8.bmp
convert "$tmp/base.png" -colors 16 -type Palette -depth 4 -compress none BMP3:"$tmp/bmp-4.bmp"
cp "$tmp/bmp-4.bmp" bmp-4.bmp
convert "$tmp/base.png" -monochrome BMP3:bmp-1.bmp
convert "$tmp/base.png" -colors 200 -type Palette -compress RLE BMP3:bmp-rle8.bmp
convert "$tmp/base.png" -define bmp:subtype=RGB565 BMP:bmp-565.bmp
convert "$tmp/base.png" -define bmp:subtype=RGB555 BMP:bmp-555.bmp
node mangle.mjs bmp-topdown bmp-24.bmp bmp-topdown.bmp
node mangle.mjs bmp-rle4 "$tmp/bmp-4.bmp" bmp-rle4.bmp

# Broken: the headers parse, the coded data does not decode.
node mangle.mjs png-zlib png-rgb8.png broken/png-zlib.png
convert -size 800x600 plasma:fractal -seed 7 -quality 90 "$tmp/big.jpg"
head -c $(($(stat -c %s "$tmp/big.jpg") * 6 / 10)) "$tmp/big.jpg" >broken/jpeg-truncated.jpg
node mangle.mjs isobmff-garbage heic-basic.heic broken/heic-garbage.heic 4
node mangle.mjs isobmff-garbage avif-8bit.avif broken/avif-garbage.avif 48
node mangle.mjs jp2-tile-index jp2-rgb8.jp2 broken/jp2-tile-index.jp2

exiftool -j -n -G -q -- *.jpg *.png *.tif *.gif *.webp *.avif *.heic *.jp2 *.j2c *.bmp >exiftool.json
ls -l | awk '{ s += $5 } END { print NR - 1 " files, " s " bytes" }'
