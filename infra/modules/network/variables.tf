variable "project_id" {
  description = "Project that owns the network."
  type        = string
}

variable "region" {
  description = "Region of the subnet and of the Serverless VPC Access connector."
  type        = string
}

variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "connector_cidr" {
  description = "A /28 range, unused in the VPC, for the Serverless VPC Access connector's subnet."
  type        = string
  default     = "10.8.0.0/28"
}

variable "private_service_prefix_length" {
  description = "Prefix length of the range reserved for Google-managed services (Cloud SQL private IP) through private services access."
  type        = number
  default     = 20
}

variable "connector_max_instances" {
  description = "Maximum instances of the VPC Access connector (e2-micro, 2 minimum); each adds roughly 100 Mbit/s of egress throughput."
  type        = number
  default     = 3
}
