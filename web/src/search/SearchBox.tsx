import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useState, type KeyboardEvent } from "react";
import { useNavigate } from "react-router";
import { api } from "../api/client";
import type { SearchResult } from "../api/types";
import { t } from "../strings";
import { BOROUGHS } from "../ui/format";

function useDebounced(value: string, ms: number): string {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return debounced;
}

/** A combobox (WAI-ARIA 1.2 pattern): arrows move through suggestions, Enter opens one, Escape closes. */
export function SearchBox() {
  const [text, setText] = useState("");
  const [active, setActive] = useState(-1);
  const [open, setOpen] = useState(false);
  const query = useDebounced(text.trim(), 200);
  const navigate = useNavigate();
  const listId = useId();
  const { data } = useQuery({
    queryKey: ["search", query],
    queryFn: () => api<{ results: SearchResult[] }>(`/v1/properties?${new URLSearchParams({ q: query, limit: "8" })}`),
    enabled: query.length >= 3,
    staleTime: 300_000,
  });
  const results = query.length >= 3 ? (data?.results ?? []) : [];
  const choose = (r: SearchResult) => {
    setOpen(false);
    setText("");
    navigate(`/property/${r.bbl}`);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      setActive((i) => Math.min(i + 1, results.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (e.key === "Enter") {
      const pick = results[active] ?? results[0];
      if (pick) {
        e.preventDefault();
        choose(pick);
      }
    } else if (e.key === "Escape") {
      setOpen(false);
    }
  };
  const expanded = open && query.length >= 3;
  return (
    <div className="search" role="search">
      <label htmlFor={`${listId}-input`} className="visually-hidden">
        {t.search.label}
      </label>
      <input
        id={`${listId}-input`}
        type="search"
        role="combobox"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={active >= 0 && results[active] ? `${listId}-${active}` : undefined}
        placeholder={t.search.placeholder}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onKeyDown={onKey}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      {expanded && (
        <ul id={listId} role="listbox" aria-label={t.search.label} className="suggestions">
          {results.length === 0 && data && (
            <li role="option" aria-selected={false} aria-disabled="true" className="muted">
              {t.search.noMatch}
            </li>
          )}
          {results.map((r, i) => (
            <li
              key={r.bbl}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              onMouseDown={(e) => {
                e.preventDefault();
                choose(r);
              }}
            >
              {r.address ?? r.bbl} <span className="muted">· {BOROUGHS[r.borough] ?? ""} · {r.bbl}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
