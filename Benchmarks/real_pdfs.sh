# Sourced by the benchmarks that read real PDFs (bench_ingest.sh, bench_decontaminate.sh).
# real_pdfs DEST: copies $BENCH_PDFS's PDFs into DEST if set; otherwise ../shared/data/pdfs (or
# /work/shared/data/pdfs) and the PDF manuals Debian packages installed under /usr/share/doc (gunzipped).
real_pdfs() {
  local dest=$1 shared f name
  if [ -n "${BENCH_PDFS:-}" ]; then
    find "$BENCH_PDFS" -iname '*.pdf' -type f -exec cp {} "$dest/" \;
    return
  fi
  shared=../shared/data/pdfs
  [ -d "$shared" ] || shared=/work/shared/data/pdfs
  [ -d "$shared" ] && cp "$shared"/*.pdf "$dest/"
  while IFS= read -r -d '' f; do
    name="$(basename "$(dirname "$f")")__$(basename "$f")"
    case "$f" in *.gz) gzip -dc "$f" > "$dest/${name%.gz}" ;; *) cp "$f" "$dest/$name" ;; esac
  done < <(find /usr/share/doc \( -name '*.pdf' -o -name '*.pdf.gz' \) -type f -print0 2>/dev/null)
}
