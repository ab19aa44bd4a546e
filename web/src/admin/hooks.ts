import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import type { ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, Organization, User, UserCreate } from "../api/types";

export const useUsers = () => useQuery({ queryKey: ["admin", "users"], queryFn: () => api<User[]>("/v1/admin/users") });
export const useKeys = () => useQuery({ queryKey: ["admin", "keys"], queryFn: () => api<ApiKeyInfo[]>("/v1/auth/api-keys") });
export const useOrganization = () =>
  useQuery({ queryKey: ["admin", "org"], queryFn: () => api<Organization>("/v1/admin/organization") });

function useAdminMutation<A, R>(fn: (arg: A) => Promise<R>) {
  const client = useQueryClient();
  return useMutation({ mutationFn: fn, onSuccess: () => client.invalidateQueries({ queryKey: ["admin"] }) });
}

export const useCreateUser = () => useAdminMutation((body: UserCreate) => api<User>("/v1/admin/users", { method: "POST", body }));
export const useUpdateUser = () =>
  useAdminMutation(({ id, ...body }: { id: number; role?: string; is_active?: boolean }) =>
    api<User>(`/v1/admin/users/${id}`, { method: "PATCH", body }),
  );
export const useCreateKey = () =>
  useAdminMutation((body: ApiKeyCreate) => api<ApiKeyCreated>("/v1/auth/api-keys", { method: "POST", body }));
export const useRevokeKey = () => useAdminMutation((id: number) => api<ApiKeyInfo>(`/v1/auth/api-keys/${id}`, { method: "DELETE" }));
export const useUpdateOrg = () =>
  useAdminMutation((body: { name?: string; timezone?: string }) =>
    api<Organization>("/v1/admin/organization", { method: "PATCH", body }),
  );
