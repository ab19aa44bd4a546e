// Leaflet (about 40 KB gzipped) is loaded only with this component. Tiles come from VS_API_MAP_TILE_URL via a
// meta tag; with none, the buildings are drawn on a blank background so the page never waits on a tile server.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { useEffect, useMemo, useRef } from "react";
import type { RollupBuilding } from "../api/types";
import { t } from "../strings";
import { BAND_COLORS, band } from "../ui/format";

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? "";

export default function RiskMap({ buildings, onOpen }: { buildings: RollupBuilding[]; onOpen: (bbl: string) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const placed = useMemo(() => buildings.filter((b) => b.latitude != null && b.longitude != null), [buildings]);
  const tiles = meta("vs-map-tiles");
  useEffect(() => {
    const el = box.current;
    if (!el || placed.length === 0) return;
    const map = L.map(el, { preferCanvas: false, attributionControl: Boolean(tiles) });
    if (tiles) L.tileLayer(tiles, { attribution: meta("vs-map-attribution"), maxZoom: 19 }).addTo(map);
    const markers = placed.map((b) =>
      L.circleMarker([b.latitude!, b.longitude!], {
        radius: 7,
        color: "#222",
        weight: 1,
        fillColor: BAND_COLORS[band(b.overall)],
        fillOpacity: 0.9,
      })
        .bindTooltip(`${b.address ?? b.bbl}: ${b.overall ?? t.scores.notScored}`)
        .on("click", () => onOpen(b.bbl))
        .addTo(map),
    );
    map.fitBounds(L.featureGroup(markers).getBounds().pad(0.1), { maxZoom: 16 });
    return () => {
      map.remove();
    };
  }, [placed, tiles, onOpen]);
  if (placed.length === 0) return <p className="muted">{t.portfolio.mapNoCoordinates}</p>;
  return (
    <>
      <div ref={box} className="map" role="region" aria-label={t.portfolio.map} />
      {!tiles && <p className="muted small">{t.portfolio.mapNoTiles}</p>}
    </>
  );
}
