import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api, hasSession, onSessionChange } from "../api/client";
import type { Me } from "../api/types";

interface Session {
  me: Me | null;
  loading: boolean;
  ended: boolean; // the session ended by itself (expired, revoked): say so on the sign-in screen
}

const SessionContext = createContext<Session>({ me: null, loading: false, ended: false });

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [signedIn, setSignedIn] = useState(hasSession());
  const [ended, setEnded] = useState(false);
  useEffect(
    () =>
      onSessionChange((tokens, reason) => {
        setSignedIn(tokens !== null);
        if (reason === "ended") {
          setEnded(true);
          client.clear(); // nothing of one user's data stays cached for the next
        } else if (reason === "signed-in") {
          setEnded(false);
        }
      }),
    [client],
  );
  const me = useQuery({ queryKey: ["me"], queryFn: () => api<Me>("/v1/auth/me"), enabled: signedIn, staleTime: 60_000 });
  const value = { me: signedIn ? (me.data ?? null) : null, loading: signedIn && me.isPending, ended };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export const useSession = () => useContext(SessionContext);

/** What the caller's role may change; the server enforces the same table (sentinel/auth/rbac.py). */
export function useCan() {
  const role = useSession().me?.role;
  const writer = role === "admin" || role === "manager";
  return { writePortfolios: writer, writeRules: writer, acknowledge: writer, admin: role === "admin" };
}
